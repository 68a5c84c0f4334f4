"""The top-level daemon.json keys dockerd reads, and the JSON type of each: data for validating `docker.daemonConfig`.

Derived from moby v2.0.0-beta.24 (`github.com/moby/moby/v2`, pinned in tools/runtime/moby/go.mod and go.sum) by
`go run ./daemonkeys` there: the JSON names of `daemon/config.Config`'s fields, embedded structs flattened as
dockerd's decoder flattens them (96 keys, Linux build). Refresh by bumping the pin and re-running it.

Why not `dockerd --validate` alone: it accepts every flag name as a key, so the singular `registry-mirror`
(the flag) passes validation, yet dockerd decodes daemon.json by these JSON names and ignores it; the runtime
tier (tests/runtime/test_daemon_config.py) proves both against that dockerd and Docker 20.10.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DAEMON_KEYS = frozenset(
    {
        "allow-direct-routing",
        "apparmor-profile",
        "authorization-plugins",
        "bip",
        "bip6",
        "bridge",
        "bridge-accept-fwmark",
        "builder",
        "cdi-spec-dirs",
        "cgroup-parent",
        "containerd",
        "containerd-namespace",
        "containerd-plugin-namespace",
        "cpu-rt-period",
        "cpu-rt-runtime",
        "cri-containerd",
        "data-root",
        "debug",
        "default-address-pools",
        "default-cgroupns-mode",
        "default-gateway",
        "default-gateway-v6",
        "default-init",
        "default-ipc-mode",
        "default-network-opts",
        "default-runtime",
        "default-shm-size",
        "default-stop-timeout",
        "default-ulimits",
        "dns",
        "dns-opts",
        "dns-search",
        "exec-opts",
        "exec-root",
        "experimental",
        "extension-config",
        "extension-dirs",
        "features",
        "firewall-backend",
        "fixed-cidr",
        "fixed-cidr-v6",
        "group",
        "host-gateway-ip",
        "host-gateway-ips",
        "hosts",
        "icc",
        "init",
        "init-path",
        "insecure-registries",
        "ip",
        "ip-forward",
        "ip-forward-no-drop",
        "ip-masq",
        "ip6tables",
        "iptables",
        "ipv6",
        "labels",
        "live-restore",
        "log-driver",
        "log-format",
        "log-level",
        "log-opts",
        "max-concurrent-downloads",
        "max-concurrent-uploads",
        "max-download-attempts",
        "metrics-addr",
        "min-api-version",
        "mtu",
        "network-control-plane-mtu",
        "network-diagnostic-port",
        "no-new-privileges",
        "node-generic-resources",
        "nri-opts",
        "pidfile",
        "proxies",
        "raw-logs",
        "registry-mirrors",
        "resolv-conf",
        "rootless",
        "runtimes",
        "seccomp-profile",
        "selinux-enabled",
        "shutdown-timeout",
        "storage-driver",
        "storage-opts",
        "swarm-default-advertise-addr",
        "swarm-raft-election-tick",
        "swarm-raft-heartbeat-tick",
        "tls",
        "tlscacert",
        "tlscert",
        "tlskey",
        "tlsverify",
        "userland-proxy",
        "userland-proxy-path",
        "userns-remap",
    }
)


# The JSON type dockerd's decoder needs for each key (the Go field's type in moby's daemon/config, config_linux.go,
# builder.go and daemon/pkg/registry/config.go: bool -> boolean, string / net.IP / netip.Addr -> string, ints ->
# integer, slices -> array, maps and structs -> object). default-address-pools and default-shm-size decode
# themselves (opts.PoolsOpt, opts.MemBytes) and are not typed here; dockerd --validate judges them.
DAEMON_KEY_TYPES = {
    "allow-direct-routing": "boolean",
    "apparmor-profile": "string",
    "authorization-plugins": "array",
    "bip": "string",
    "bip6": "string",
    "bridge": "string",
    "bridge-accept-fwmark": "string",
    "builder": "object",
    "cdi-spec-dirs": "array",
    "cgroup-parent": "string",
    "containerd": "string",
    "containerd-namespace": "string",
    "containerd-plugin-namespace": "string",
    "cpu-rt-period": "integer",
    "cpu-rt-runtime": "integer",
    "cri-containerd": "boolean",
    "data-root": "string",
    "debug": "boolean",
    "default-cgroupns-mode": "string",
    "default-gateway": "string",
    "default-gateway-v6": "string",
    "default-init": "string",
    "default-ipc-mode": "string",
    "default-network-opts": "object",
    "default-runtime": "string",
    "default-stop-timeout": "integer",
    "default-ulimits": "object",
    "dns": "array",
    "dns-opts": "array",
    "dns-search": "array",
    "exec-opts": "array",
    "exec-root": "string",
    "experimental": "boolean",
    "extension-config": "object",
    "extension-dirs": "array",
    "features": "object",
    "firewall-backend": "string",
    "fixed-cidr": "string",
    "fixed-cidr-v6": "string",
    "group": "string",
    "host-gateway-ip": "string",
    "host-gateway-ips": "array",
    "hosts": "array",
    "icc": "boolean",
    "init": "boolean",
    "init-path": "string",
    "insecure-registries": "array",
    "ip": "string",
    "ip-forward": "boolean",
    "ip-forward-no-drop": "boolean",
    "ip-masq": "boolean",
    "ip6tables": "boolean",
    "iptables": "boolean",
    "ipv6": "boolean",
    "labels": "array",
    "live-restore": "boolean",
    "log-driver": "string",
    "log-format": "string",
    "log-level": "string",
    "log-opts": "object",
    "max-concurrent-downloads": "integer",
    "max-concurrent-uploads": "integer",
    "max-download-attempts": "integer",
    "metrics-addr": "string",
    "min-api-version": "string",
    "mtu": "integer",
    "network-control-plane-mtu": "integer",
    "network-diagnostic-port": "integer",
    "no-new-privileges": "boolean",
    "node-generic-resources": "array",
    "nri-opts": "object",
    "pidfile": "string",
    "proxies": "object",
    "raw-logs": "boolean",
    "registry-mirrors": "array",
    "resolv-conf": "string",
    "rootless": "boolean",
    "runtimes": "object",
    "seccomp-profile": "string",
    "selinux-enabled": "boolean",
    "shutdown-timeout": "integer",
    "storage-driver": "string",
    "storage-opts": "array",
    "swarm-default-advertise-addr": "string",
    "swarm-raft-election-tick": "integer",
    "swarm-raft-heartbeat-tick": "integer",
    "tls": "boolean",
    "tlscacert": "string",
    "tlscert": "string",
    "tlskey": "string",
    "tlsverify": "boolean",
    "userland-proxy": "boolean",
    "userland-proxy-path": "string",
    "userns-remap": "string",
}
# moby's validateDaemonLogConfig: the levels dockerd accepts (case-insensitive).
LOG_LEVELS = ("panic", "fatal", "error", "warn", "info", "debug", "trace")
_JSON_TYPES = {"boolean": (bool,), "string": (str,), "integer": (int,), "array": (list, tuple), "object": (dict,)}


def value_problem(key: str, value: object) -> str | None:
    """What dockerd's decoder or its validation refuses in one daemon.json value (None: it reads it)."""
    from collections.abc import Mapping

    kind = DAEMON_KEY_TYPES.get(key)
    if kind is not None:
        is_mapping = isinstance(value, Mapping)
        fits = is_mapping if kind == "object" else isinstance(value, _JSON_TYPES[kind])
        if (kind != "boolean" and isinstance(value, bool)) or not fits:
            article = "an" if kind[0] in "aeiou" else "a"
            return f"must be {article} {kind} (dockerd decodes it into that type and refuses to start otherwise)"
    if key == "default-network-opts" and isinstance(value, Mapping) and not _string_map_map(value):
        return (
            "must map each network driver to an object of string options, e.g. {bridge: "
            "{com.docker.network.driver.mtu: '1400'}} (dockerd decodes it as map[string]map[string]string)"
        )
    if key == "log-level" and isinstance(value, str) and value.lower() not in LOG_LEVELS:
        return f"{value!r} is not a log level dockerd accepts ({', '.join(LOG_LEVELS)})"
    return None


def _string_map_map(value: Mapping[object, object]) -> bool:
    from collections.abc import Mapping

    return all(
        isinstance(driver, str)
        and isinstance(options, Mapping)
        and all(isinstance(name, str) and isinstance(option, str) for name, option in options.items())
        for driver, options in value.items()
    )
