"""What container runtimes are: the capability set a container gets by default, and the sandbox handlers.

Facts the config (a sandbox runtimeClassName), the gVisor control (dind's capability set) and the audit share.
"""

from __future__ import annotations

SANDBOX_HANDLERS = ("runsc", "gvisor")
WELL_KNOWN_SANDBOX = "gvisor"
# containerd's and Docker's default capability set: what a container gets without privileged or add.
RUNTIME_DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "NET_RAW",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
