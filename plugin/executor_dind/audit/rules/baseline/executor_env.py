"""EXD003, EXD004, EXD013, EXD014: the executor's password and frontend URL, as the kubelet resolves them."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind import values
from executor_dind.audit.rules.baseline.reading import executor_vars
from executor_dind.audit.scope import Finding, Rule, Scope
from executor_dind.krm.item import Item
from executor_dind.password import password_problem


def literal_password(item: Item, scope: Scope) -> Iterator[Finding]:
    """The password as the kubelet resolves it: from a Secret, or it is a literal by some name."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin == "secret":
            continue
        if var.origin == "value":
            what = f"the password of {item.describe()} is a literal value"
        elif var.holder is not None:
            what = f"the password of {item.describe()} comes from {var.holder.describe()}, a literal by another name"
        else:
            what = f"cannot determine that the password of {item.describe()} comes from a Secret: {var.why}"
        yield Finding(var.source, var.field_path, f"{what}; use valueFrom.secretKeyRef")


def frontend_url_no_port(item: Item, scope: Scope) -> Iterator[Finding]:
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_URL"):
        url = var.value
        if url is None:
            yield Finding(
                var.source,
                var.field_path,
                f"cannot determine EXECUTOR_FRONTEND_URL of {item.describe()}: {var.why}; set it in the render",
            )
            continue
        _, host, port, parsable = values.url_authority(url)
        shown = url if len(url) <= 80 else url[:77] + "..."
        if not parsable:
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} is no URL the executor can read (its host or "
                "port is not host[:digits]): the executor cannot connect; use the frontend Service's URL and port "
                "(30080)",
            )
        elif port is not None and not 0 < port < 65536:
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} has a port outside 1-65535: the executor "
                "cannot connect; use the frontend Service's port (30080)",
            )
        elif port is None and host.startswith("sourcegraph-frontend"):
            yield Finding(
                var.source,
                var.field_path,
                f"EXECUTOR_FRONTEND_URL {shown!r} of {item.describe()} has no port: the frontend Service listens "
                "on 30080 and the executor hangs silently at 'Connecting to Sourcegraph instance'",
            )


def bad_password(item: Item, scope: Scope) -> Iterator[Finding]:
    """The password as the render's Secret holds it for the kubelet: empty, a placeholder, an example, missing
    or not valid base64 is none (password.py: the same judgement as the function's check of its input)."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin != "secret" or var.holder is None:
            continue
        problem = password_problem(var.holder, var.key)
        if problem:
            yield Finding(
                var.holder,
                f"data.{var.key}",
                f"the password of {item.describe()} (Secret {var.holder.name!r}, key {var.key!r}) {problem}: "
                "put the value of executors.accessToken from the site configuration there",
            )


def password_not_rendered(item: Item, scope: Scope) -> Iterator[Finding]:
    """A Secret the render does not hold is made by hand or by GitOps beside it: the audit cannot see its value."""
    for var in executor_vars(item, scope, "EXECUTOR_FRONTEND_PASSWORD"):
        if var.origin != "secret" or var.holder is not None or not var.field_path.endswith("secretKeyRef"):
            continue
        name, where = var.holder_name, f" -n {item.namespace}" if item.namespace else ""
        yield Finding(
            var.source,
            var.field_path,
            f"the password Secret {name!r} of {item.describe()} is not in the render, so its value is not checked: "
            f"make sure it exists beside the executors with the value of executors.accessToken (kubectl{where} get "
            f"secret {name}), or generate it in the overlay",
        )


RULES = (
    Rule(
        "EXD003",
        "literal-password",
        "error",
        "the executor password comes from no Secret (a literal, a ConfigMap, or undetermined)",
        literal_password,
    ),
    Rule(
        "EXD004",
        "frontend-url-no-port",
        "error",
        "`EXECUTOR_FRONTEND_URL` has no port or one outside 1-65535 (the executor hangs), or cannot be determined",
        frontend_url_no_port,
    ),
    Rule(
        "EXD013",
        "bad-password",
        "error",
        "the executor password's Secret is empty, init's placeholder, upstream's example, or lacks its key",
        bad_password,
    ),
    Rule(
        "EXD014",
        "password-not-rendered",
        "warning",
        "the executor password's Secret is not in the render (its value cannot be checked)",
        password_not_rendered,
    ),
)
