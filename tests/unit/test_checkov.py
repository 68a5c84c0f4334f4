"""checkov: the skip annotations the executor Deployment carries, one key per check."""

from __future__ import annotations

import pytest

from executor_dind.checkov import CHECKOV_SKIPS, PLAIN_CONTAINER_SKIPS, checkov_skip_key, skip_annotations


def test_one_annotation_per_check_with_the_check_id_before_the_reason():
    assert checkov_skip_key("CKV_K8S_16") == "checkov.io/skip16"
    assert skip_annotations({"CKV_K8S_16": "why"}) == {"checkov.io/skip16": "CKV_K8S_16=why"}


def test_no_reason_holds_an_equals_sign():
    for reason in (*CHECKOV_SKIPS.values(), *PLAIN_CONTAINER_SKIPS.values()):
        assert "=" not in reason
    with pytest.raises(AssertionError):
        skip_annotations({"CKV_K8S_16": "a=b"})
