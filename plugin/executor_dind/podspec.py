"""Where pod specs live in workload objects, and which workloads are executors."""

from __future__ import annotations

from collections.abc import Iterator

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# kind -> path of its pod spec, and that path as a field path for results.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


# Other kinds run pods too (Argo Rollouts, OpenKruise CloneSets, KEDA ScaledJobs, ...): any object whose spec
# holds, through mappings, a mapping with a `containers` list carries a pod template its controller runs.
_TEMPLATE_DEPTH = 8


def _template_path(node: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path of the first mapping under node holding a `containers` list (breadth-first, bounded)."""
    level = [(node, path)]
    for _ in range(_TEMPLATE_DEPTH):
        following = []
        for mapping, where in level:
            if isinstance(mapping.get("containers"), list):
                return where
            following += [(v, (*where, str(k))) for k, v in mapping.items() if isinstance(v, dict)]
        level = following
    return None


def pod_spec_path(obj: Any) -> tuple[str, ...] | None:
    """Where an object's pod spec is: the known kinds' place, else wherever a pod template sits under spec."""
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return None
    if obj["kind"] in POD_SPEC_PATHS:
        return POD_SPEC_PATHS[obj["kind"]]
    spec = obj.get("spec")
    return _template_path(spec, ("spec",)) if isinstance(spec, dict) else None


def has_pod_template(item: Any) -> bool:
    """Whether an Item may carry a pod spec, decided from its parsed node where it has one (no object built)."""
    if not item.is_mapping:
        return False
    if item.kind in POD_SPEC_PATHS or item.node is None:
        return True
    return _node_has_containers(item.node, 0)


def _node_has_containers(node: Any, depth: int) -> bool:
    from yaml import MappingNode, ScalarNode

    if depth > _TEMPLATE_DEPTH or not isinstance(node, MappingNode):
        return False
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if depth == 0 and key.value != "spec":
            continue
        if key.value == "containers" or (isinstance(value, MappingNode) and _node_has_containers(value, depth + 1)):
            return True
    return False


def pod_spec(obj: Any) -> tuple[dict[str, Any], str] | None:
    """The pod spec of a workload object and its field path, or None."""
    path = pod_spec_path(obj)
    if path is None:
        return None
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return (node, ".".join(path)) if isinstance(node, dict) else None


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels of a workload's pods (as strings; anything malformed: none)."""
    node: Any = obj
    for key in (pod_spec_path(obj) or ("", ""))[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    meta = node.get("metadata") if isinstance(node, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def pod_labels_path(obj: dict[str, Any]) -> str:
    """The field path of a workload's pod labels: spec.template.metadata.labels, a ScaledJob's under its
    jobTargetRef, a Pod's metadata.labels."""
    path = pod_spec_path(obj) or ("spec", "template", "spec")
    return ".".join((*path[:-1], "metadata", "labels"))


CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def containers(
    spec: dict[str, Any], base: str, lists: tuple[str, ...] = CONTAINER_LISTS
) -> Iterator[tuple[dict[str, Any], str]]:
    """Every container (init, regular and ephemeral) with its field path."""
    for key in lists:
        listed = spec.get(key)
        for index, container in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(container, dict):
                yield container, f"{base}.{key}[{index}]"


def container(spec: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((entry for entry, _ in containers(spec, "") if entry.get("name") == name), None)


# The executors' pull-through registries: upstream's and ours, by name; any other by what it runs.
REGISTRY_NAMES = frozenset({"private-docker-registry", "executor-dind-registry"})
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "busybox"})
DOCKERD = frozenset({"dockerd", "dockerd-entrypoint.sh"})
# What every name in DOCKERD contains: the shell lines worth lexing when looking for dockerd.
DOCKERD_PART = "dockerd"


def image_name(container: dict[str, Any]) -> str:
    """The image's repository name without registry host, tag or digest: `sourcegraph/dind`."""
    image = str(container.get("image") or "").split("@", 1)[0]
    host, _, rest = image.partition("/")
    if rest and ("." in host or ":" in host or host == "localhost"):
        image = rest
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def image_tag(container: dict[str, Any]) -> str:
    image = str(container.get("image") or "").split("@", 1)[0]
    colon = image.rfind(":")
    return image[colon + 1 :] if colon > image.rfind("/") else ""


def argv(container: dict[str, Any]) -> list[str]:
    command = container.get("command")
    args = container.get("args")
    words = [*(command if isinstance(command, list) else []), *(args if isinstance(args, list) else [])]
    return [str(word) for word in words]


def shell_invocation(words: list[str]) -> tuple[str, list[str]] | None:
    """The script of `sh -c SCRIPT [NAME [ARG...]]` (any shell, any flags ending in c) and its positional
    parameters (`$1`...: the words after NAME), or None."""
    if not words or words[0].rsplit("/", 1)[-1] not in SHELLS:
        return None
    rest = words[1:]
    if words[0].endswith("busybox") and rest:
        rest = rest[1:]
    for index, word in enumerate(rest):
        if word.startswith("-") and not word.startswith("--") and "c" in word:
            return (rest[index + 1] if index + 1 < len(rest) else ""), rest[index + 3 :]
        if not word.startswith("-"):
            return None
    return None


def shell_script(words: list[str]) -> str | None:
    """The script of `sh -c SCRIPT` (any shell, any flags ending in c), or None."""
    invocation = shell_invocation(words)
    return None if invocation is None else invocation[0]


_QUOTE_REMOVAL = str.maketrans("", "", "'\"\\")


def script_commands(script: str, naming: str) -> list[list[str]]:
    """The simple commands of a shell script, as words: those on lines where a word may contain `naming`. Lexing
    a long script costs milliseconds, and the shell's quote removal takes out only quotes and backslashes, so a
    line whose text without them does not contain `naming` holds no such word and is not lexed."""
    import shlex

    commands: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        if naming not in line.translate(_QUOTE_REMOVAL):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        commands.append([])
        try:
            for token in lexer:
                if token and set(token) <= set(";&|()<>"):
                    commands.append([])
                else:
                    commands[-1].append(token)
        except ValueError:  # a quote spanning lines: plain words, so a flag is still seen
            commands[-1] = line.split()
    return [command for command in commands if command]


def command_words(container: dict[str, Any]) -> list[list[str]]:
    """The simple commands a container runs that may start dockerd: its argv, or each command of its `sh -c`
    script on a line that may name dockerd."""
    words = argv(container)
    script = shell_script(words)
    return [words] if script is None else script_commands(script, DOCKERD_PART)


def runs_dockerd(container: dict[str, Any]) -> bool:
    return any(word.rsplit("/", 1)[-1] in DOCKERD for words in command_words(container) for word in words)


def is_dind_container(container: Any) -> bool:
    """dind by what it is: it runs dockerd, or its image is a Docker-in-Docker image."""
    if not isinstance(container, dict):
        return False
    name = image_name(container)  # the image first: reading a script's commands (shlex) costs milliseconds
    return "dind" in name.rsplit("/", 1)[-1] or "dind" in image_tag(container) or runs_dockerd(container)


def is_executor_container(container: Any) -> bool:
    """The executor by what it is: Sourcegraph's executor image, or the executor's EXECUTOR_* environment."""
    if not isinstance(container, dict):
        return False
    if image_name(container).rsplit("/", 1)[-1].startswith("executor"):
        return True
    env = container.get("env")
    return any(
        isinstance(var, dict) and str(var.get("name", "")).startswith("EXECUTOR_")
        for var in (env if isinstance(env, list) else [])
    )


def role_containers(spec: dict[str, Any], base: str, role: str) -> Iterator[tuple[dict[str, Any], str]]:
    """The containers of one role ("executor" or "dind") with their field paths."""
    test = is_executor_container if role == "executor" else is_dind_container
    for entry, path in containers(spec, base):
        if test(entry) and not (role == "executor" and is_dind_container(entry)):
            yield entry, path


def is_executor_workload(obj: Any) -> bool:
    """Any workload that runs an executor or a dind container: ours, upstream's or hand-made, whatever the
    containers are called."""
    located = pod_spec(obj)
    if located is None:
        return False
    spec, base = located
    return any(is_executor_container(entry) or is_dind_container(entry) for entry, _ in containers(spec, base))


def is_registry_workload(obj: Any) -> bool:
    """The executors' pull-through registry: by name, or a Docker registry image."""
    located = pod_spec(obj)
    if located is None or is_executor_workload(obj):
        return False
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if str(meta.get("name")) in REGISTRY_NAMES:
        return True
    return any(image_name(entry).rsplit("/", 1)[-1] == "registry" for entry, _ in containers(*located))
