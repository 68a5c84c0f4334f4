"""A `docker load` archive around one root filesystem layer: the image config (entrypoint, user, labels) and the
manifest, written by hand so no dockerd or registry is needed to build it.

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


def main(rootfs: str, out: str, version: str, revision: str, base: str) -> None:
    layer = sha256(rootfs)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Entrypoint": ["/usr/local/bin/executor-dind"],
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
            "WorkingDir": "/",
            "Labels": {
                "org.opencontainers.image.title": "executor-dind",
                "org.opencontainers.image.description": "The executor-dind KRM function (kpt, kustomize, Argo CD)",
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.revision": revision,
                "org.opencontainers.image.licenses": "Apache-2.0",
                "org.opencontainers.image.base.name": base,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer}"]},
        "history": [{"created_by": "tools/image/build.sh (debootstrap, the wheel)"}],
    }
    config_bytes = json.dumps(config, indent=2, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [f"executor-dind:{version}"], "Layers": [f"{layer}/layer.tar"]}]
    with tarfile.open(out, "w") as archive:
        for name, data in ((config_name, config_bytes), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        archive.add(rootfs, arcname=f"{layer}/layer.tar")


if __name__ == "__main__":
    main(*sys.argv[1:])
