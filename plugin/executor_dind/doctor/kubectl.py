"""The doctor's only contact with the cluster: the user's own kubectl, their kubeconfig and auth plugins, and only
`kubectl get` (and `kubectl version`). Each read becomes an Answer: the JSON, None for a named object that does not
exist, or kubectl's error line."""

from __future__ import annotations

import json
import subprocess

from executor_dind.doctor.checks import Answer, Query
from executor_dind.records import Record

# Bounds on one read: the API server's (kubectl's --request-timeout) and the process's, for exec auth plugins.
REQUEST_TIMEOUT = "30s"
PROCESS_TIMEOUT = 90


class Kubectl(Record):
    binary: str
    kubeconfig: str = ""
    context: str = ""

    def command(self, query: Query) -> list[str]:
        flags = [f"--request-timeout={REQUEST_TIMEOUT}"]
        if self.kubeconfig:
            flags.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            flags.append(f"--context={self.context}")
        if query.resource == "version":
            return [self.binary, *flags, "version", "-o", "json"]
        named = [query.name] if query.name else []
        namespaced = ["--namespace", query.namespace] if query.namespace else []
        return [self.binary, *flags, "get", query.resource, *named, *namespaced, "-o", "json", "--ignore-not-found"]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def read(kubectl: Kubectl, query: Query) -> Answer:
    try:
        done = subprocess.run(
            kubectl.command(query), capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return Answer(error=f"no answer within {PROCESS_TIMEOUT} s")
    except OSError as error:
        return Answer(error=f"{kubectl.binary} cannot be run ({error.strerror})")
    if done.returncode != 0:
        return Answer(error=f"{_last_line(done.stderr)} (exit {done.returncode})")
    if not done.stdout.strip():
        return Answer(None)
    try:
        return Answer(json.loads(done.stdout))
    except ValueError:
        return Answer(error=f"not JSON: {_last_line(done.stdout)[:200]}")


def read_all(kubectl: Kubectl, queries: tuple[Query, ...]) -> dict[Query, Answer]:
    return {query: read(kubectl, query) for query in queries}
