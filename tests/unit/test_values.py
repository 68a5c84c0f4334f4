"""values: the value checks and duration arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from executor_dind.function_config import parse_function_config
from executor_dind.records import ConfigError
from executor_dind.spec import parse_spec
from executor_dind.values import duration_seconds


def problems(raw: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_spec(raw)
    return caught.value.problems


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"}, "data": data}


def cm_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_function_config(configmap(**data))
    return caught.value.problems


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("2h0m10s", 7210)]
)
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds
