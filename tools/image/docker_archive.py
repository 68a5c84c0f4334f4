"""A `docker load` archive around one root filesystem layer: two images sharing it, the KRM function
(localhost/executor-dind) and the audit as a KRM validator (localhost/executor-dind-audit: kpt's pipeline cannot
pass arguments to an image), each with its config (entrypoint, user, labels), and the manifest, written by hand
so no dockerd or registry is needed to build it. The names have a registry part (`localhost/`, where local
images live in Podman too) because kpt prefixes a bare `NAME:TAG` with gcr.io/kpt-fn/.

    python3 docker_archive.py ROOTFS.tar OUT.tar VERSION REVISION BASE
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


IMAGES = {
    "localhost/executor-dind": (["/usr/local/bin/executor-dind"], "The executor-dind KRM function (kpt, kustomize)"),
    "localhost/executor-dind-audit": (
        ["/usr/local/bin/executor-dind", "audit"],
        "The executor-dind audit as a KRM validator (kpt)",
    ),
}


def image_config(layer: str, entrypoint: list[str], description: str, version: str, revision: str, base: str) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Entrypoint": entrypoint,
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": "executor-dind",
                "org.opencontainers.image.description": description,
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.revision": revision,
                "org.opencontainers.image.licenses": "Apache-2.0",
                "org.opencontainers.image.base.name": base,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer}"]},
        "history": [{"created_by": "tools/image/build.sh (debootstrap, the wheel)"}],
    }
    return json.dumps(config, indent=2, sort_keys=True).encode()


def main(rootfs: str, out: str, version: str, revision: str, base: str) -> None:
    layer = sha256(rootfs)
    configs = {}
    manifest = []
    for name, (entrypoint, description) in IMAGES.items():
        config_bytes = image_config(layer, entrypoint, description, version, revision, base)
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        configs[config_name] = config_bytes
        manifest.append({"Config": config_name, "RepoTags": [f"{name}:{version}"], "Layers": [f"{layer}/layer.tar"]})
    with tarfile.open(out, "w") as archive:
        for name, data in (*configs.items(), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.add(rootfs, arcname=f"{layer}/layer.tar")


if __name__ == "__main__":
    main(*sys.argv[1:])
