"""The executor and dind images follow the instance's Sourcegraph version, read from the input's frontend image.

Executors speak the frontend's executor API, released with it: an instance upgraded to 6.3 with executors left on
the tool's pinned 6.2 is a skew nobody chose. So while spec.images keeps the defaults, the executor and dind
images take the frontend's tag (same registry and repository as the defaults, no digest: none is known here, and
the audit's EXD005 says how to pin one); an image the user set is kept, with a warning when its tag differs.
"""

from __future__ import annotations

from executor_dind.krm.item import Item
from executor_dind.podspec import containers, image_name, pod_spec
from executor_dind.results import Result
from executor_dind.spec import DEFAULT_IMAGES, Spec

FRONTEND = "sourcegraph-frontend"
FRONTEND_IMAGE = "sourcegraph/frontend"
FOLLOWING = ("executor", "dind")


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none)."""
    name = image.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[colon + 1 :] if colon > slash else ""


def sourcegraph_version(items: list[Item]) -> str:
    """The tag of the frontend's image in the input ("" without a sourcegraph-frontend workload)."""
    for item in items:
        if item.name != FRONTEND or item.kind not in ("Deployment", "StatefulSet") or not item.is_mapping:
            continue
        found = pod_spec(item.obj)
        for container, _ in containers(*found) if found is not None else []:
            if image_name(container) == FRONTEND_IMAGE:
                return image_tag(str(container.get("image", "")))
    return ""


def following(spec: Spec, items: list[Item]) -> tuple[Spec, list[Result]]:
    """The spec with the default executor and dind images moved to the instance's version, and what was said."""
    version = sourcegraph_version(items)
    if not version:
        return spec, []
    images, results, moved = spec.images, [], []
    for role in FOLLOWING:
        image = getattr(images, role)
        tag = image_tag(image)
        if tag == version:
            continue
        if image == DEFAULT_IMAGES[role]:
            images = images._replace(**{role: f"{image.split('@', 1)[0].rsplit(':', 1)[0]}:{version}"})
            moved.append((role, tag))
        else:
            results.append(
                Result(
                    f"version skew: spec.images.{role} is {tag or 'untagged'} ({image}) while the instance's "
                    f"Sourcegraph is {version} (its frontend image): executors must match the frontend; set "
                    f"spec.images.{role} to the {version} image, or remove it to follow the instance",
                    "warning",
                )
            )
    if moved:
        roles = " and ".join(role for role, _ in moved)
        results.insert(
            0,
            Result(
                f"the {roles} image{'s' if len(moved) > 1 else ''} follow{'' if len(moved) > 1 else 's'} the "
                f"instance's Sourcegraph {version} (its frontend image), not executor-dind's pinned {moved[0][1]}: "
                f"{', '.join(getattr(images, role) for role, _ in moved)}; pin by digest in spec.images "
                "(`docker buildx imagetools inspect IMAGE` prints it)",
                "warning",
            ),
        )
    return spec._replace(images=images), results
