"""values: the value checks and duration arithmetic."""

from __future__ import annotations

import pytest

from executor_dind import values
from executor_dind.values import duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("2h0m10s", 7210)]
)
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (values.dns_label, ["a", "sg-exec", "a" * 63], ["", "A", "a_b", "-a", "a-", "a" * 64, "sg-exec\n"]),
        (values.quantity, ["", "20Gi", "1.5", "500m", "1e"[:1]], ["20GB", "Gi", "20Gi\n", "-1"]),
        (values.duration, ["30m", "1h30m", "90s", "1500ms"], ["", "30", "30m\n", "1d", "250ms"]),
        (values.url, ["", "http://a:1", "https://sg.example.com/"], ["ftp://a", "http://a:1/x", "http://a:1\n"]),
        (values.ip_address, ["", "169.254.20.10", "fd00::1"], ["1.2.3", "x"]),
    ],
)
def test_value_checks_match_whole_strings(check, good, bad):
    assert [value for value in good if check(value)] == []
    assert [value for value in bad if not check(value)] == []
