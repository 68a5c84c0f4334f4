"""EXD005, EXD006: every container's image pinned by digest and its resources limited."""

from __future__ import annotations

from collections.abc import Iterator

from executor_dind import values
from executor_dind.audit.scope import Finding, Rule, Scope, executor_pod
from executor_dind.krm.item import Item
from executor_dind.podspec import containers


def unpinned_image(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    for entry, path in containers(spec, base):
        image = str(entry.get("image", ""))
        malformed = values.image(image)
        if malformed is not None:
            # A digest the runtime cannot read pins nothing (and the kubelet cannot pull the image at all).
            yield Finding(item, f"{path}.image", f"image is not pinned by digest: {malformed}")
        elif "@" not in image:
            yield Finding(
                item,
                f"{path}.image",
                f"image {image!r} is not pinned by digest: a tag can be moved to other content; pin it as "
                f"{image}@sha256:DIGEST (`docker buildx imagetools inspect {image}` prints the digest; for "
                "executor-dind's own images, in spec.images)",
            )


def no_limits(item: Item, scope: Scope) -> Iterator[Finding]:
    spec, base = executor_pod(item)
    # Ephemeral containers take no resources: the API server refuses them there.
    for entry, path in containers(spec, base, ("initContainers", "containers")):
        resources = entry.get("resources") if isinstance(entry.get("resources"), dict) else {}
        limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
        missing = [name for name in ("cpu", "memory") if name not in limits]
        if missing:
            yield Finding(
                item, f"{path}.resources.limits", f"container {entry.get('name')!r} has no {'/'.join(missing)} limit"
            )


RULES = (
    Rule("EXD005", "unpinned-image", "warning", "an image is not pinned by digest", unpinned_image, True),
    Rule("EXD006", "no-limits", "warning", "a container has no CPU or memory limit", no_limits, True),
)
