"""checkov checks our executor Deployment fails by design, each carried as a `checkov.io/skip<N>` annotation.

N is the check's number; the reason is what a security reviewer needs. checkov judges per object, so a skip for
dind covers the executor container too: the executor meets every one of these checks itself except CKV_K8S_35
and CKV_K8S_40. Reasons contain no "=" (checkov splits the annotation value on it).
"""

from __future__ import annotations

CHECKOV_SKIPS = {
    # Only what every render that carries this skip has (gVisor removes it): the controls say their own part.
    "CKV_K8S_16": "privileged is set on the dind container only: Docker-in-Docker needs it to run job "
    "containers. Mitigations in this render: dockerd bound to 127.0.0.1, no service-account token, executor "
    "container unprivileged (the audit's EXD007 keeps it so)",
    "CKV_K8S_20": "dind only (the executor sets allowPrivilegeEscalation false): the API rejects "
    "allowPrivilegeEscalation false on a privileged container, and dockerd needs privileges to start job "
    "containers",
    "CKV_K8S_22": "dind only (the executor root filesystem is read-only): dockerd and its containerd write "
    "runtime state (pid file, exec root, containerd state) under /var/run besides the /var/lib/docker "
    "emptyDir, and a container with privileged or SYS_ADMIN can remount its root read-write, so a read-only "
    "root is no boundary for dind",
    "CKV_K8S_28": "dind only (the executor drops ALL): a privileged container holds every capability "
    "whatever its drop list says; dockerd needs NET_RAW and NET_ADMIN for the job containers' network",
    "CKV_K8S_35": "the executor reads its frontend token only from the EXECUTOR_FRONTEND_PASSWORD variable "
    "(no file variant); it comes from a Secret by secretKeyRef and never appears in the manifest",
    "CKV_K8S_37": "dind only (the executor drops ALL): capabilities cannot be reduced on a privileged "
    "container, which holds every capability whatever its drop list says",
    "CKV_K8S_40": "the executor runs as uid 100, the non-root user its image is built for (runAsNonRoot, "
    "no capabilities, no privilege escalation); dind runs dockerd as root, which Docker-in-Docker needs",
}

# checkov reads only `containers` for these two: they fail on dind when it is a plain container
# (docker.nativeSidecar: false). As a native sidecar dind is the same, only unseen.
PLAIN_CONTAINER_SKIPS = {
    "CKV_K8S_23": "dind only (the executor sets runAsNonRoot): dockerd runs as root, which Docker-in-Docker "
    "needs to create job containers",
    "CKV_K8S_31": "dind only (the executor sets seccompProfile RuntimeDefault): the container runtime "
    "applies no seccomp profile to a privileged container, whatever the manifest says",
}


def checkov_skip_key(check_id: str) -> str:
    return "checkov.io/skip" + check_id.rsplit("_", 1)[1]


def skip_annotations(skips: dict[str, str]) -> dict[str, str]:
    """The annotations that carry these skips (one key per check, so controls compose)."""
    for reason in skips.values():
        assert "=" not in reason, reason
    return {checkov_skip_key(check_id): f"{check_id}={reason}" for check_id, reason in skips.items()}
