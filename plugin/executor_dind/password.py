"""The executors' frontend password as a Secret holds it: one judgement for the function's check of its input
(hardening/baseline.py) and the audit's EXD013 (audit/rules/baseline/executor_env.py). It imports only naming:
the audit must not import hardening, nor hardening the audit's rules."""

from __future__ import annotations

from executor_dind.naming import NOT_PASSWORDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from executor_dind.krm.item import Item

MISSING = "is missing (the Secret has no such key; the kubelet cannot start the executor)"
NOT_BASE64 = "is not valid base64 (the API server refuses the Secret)"


def password_problem(secret: Item, key: str) -> str:
    """What is wrong with the password under key in this Secret ("" when nothing is): missing, not valid base64
    in data (the API server refuses the whole Secret, whatever stringData says), empty, a placeholder or a
    published example."""
    value, problem = _read(secret, key)
    if problem:
        return problem
    text = (value or "").strip()
    return NOT_PASSWORDS.get(text, "" if text else "is empty")


def _read(secret: Item, key: str) -> tuple[str | None, str]:
    """The value the kubelet reads for key, as the API server stores the Secret (stringData written over data),
    or the problem: the key is missing, or data's value is not valid base64 (the Secret is refused)."""
    obj = secret.obj if isinstance(secret.obj, dict) else {}
    data = _mapping(obj.get("data"))
    string_data = _mapping(obj.get("stringData"))
    decoded = None
    if key in data:
        import base64
        import binascii

        try:
            decoded = base64.b64decode(str(data[key]), validate=True).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            return None, NOT_BASE64
    if key in string_data:
        return str(string_data[key]), ""
    return (decoded, "") if key in data else (None, MISSING)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
