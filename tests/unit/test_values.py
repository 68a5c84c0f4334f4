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


SHA = "1363cce32f2002594cad461380b223670e17de1f4466edee956a3404c7bbd172"


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        (f"index.docker.io/sourcegraph/executor:6.2.1106@sha256:{SHA}", None),
        ("localhost:5000/team/image:v1.2_3", None),
        ("[::1]:5000/image", None),
        ("registry:3.0.0", None),
        (
            "Sourcegraph/executor:6.2",
            "'Sourcegraph/executor:6.2': the repository must be lower-case",
        ),
        (
            "a@@b",
            "'a@@b' is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>], the repository "
            "lower-case; e.g. index.docker.io/sourcegraph/executor:6.2.1106@sha256:...)",
        ),
        (
            f"x@sha256:{SHA[:63]}",
            "'x@sha256:1363cce32f2002594cad461380b2236'... (72 characters): a sha256 digest is "
            "exactly 64 lower-case hex digits",
        ),
        (
            f"x@sha256:{SHA.upper()}",
            "'x@sha256:1363CCE32F2002594CAD461380B2236'... (73 characters): a sha256 digest "
            "is exactly 64 lower-case hex digits",
        ),
        (
            "x@md5:" + "a" * 32,
            "'x@md5:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': 'md5' is not a digest algorithm the registries accept (sha256)",
        ),
    ],
)
def test_image_references_by_the_distribution_grammar(reference, problem):
    assert values.image(reference) == problem


@pytest.mark.parametrize("size", ["0", "0Gi", "0.0Mi", "000", "0m"])
def test_a_storage_size_is_more_than_zero(size):
    assert values.quantity(size) == f"{size!r} is no space at all: a size must be more than 0 (e.g. 20Gi)"
    assert values.required_quantity(size) == values.quantity(size)
    assert values.quantity("0.5Gi") is None and values.quantity("1") is None  # the positive control


@pytest.mark.parametrize(
    ("text", "authority"),
    [
        ("http://Sourcegraph-Frontend:30080/x", ("http", "sourcegraph-frontend", 30080, True)),
        ("http://h", ("http", "h", None, True)),
        ("http://h:", ("http", "h", None, True)),
        ("http://h:00080?q", ("http", "h", 80, True)),
        ("http://h:000065535#f", ("http", "h", 65535, True)),
        ("http://h:65536", ("http", "h", 65536, True)),
        ("http://h:99999", ("http", "h", 99999, True)),
        ("http://h:" + "9" * 5000, ("http", "h", 65536, True)),  # never int() of the digits
        ("http://h:0" + "0" * 5000 + "1", ("http", "h", 1, True)),
        ("http://h:80x", ("http", "h", 80, False)),  # Go's url.Parse refuses a port that is not digits
        ("http://h:\uff18\uff10", ("http", "h", None, False)),  # fullwidth digits are not a port to Go
        (" https://h:1", ("https", "h", 1, True)),
        ("h:80", ("", "", None, False)),
    ],
)
def test_a_url_authority_as_a_client_reads_it(text, authority):
    assert tuple(values.url_authority(text)) == authority
