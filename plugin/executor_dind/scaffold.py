"""`executor-dind init`: scaffold an overlay inside a deploy-sourcegraph-k8s checkout.

The overlay references the checkout's base, runs executor-dind as a KRM function, and holds a config pre-filled
from what the checkout says (namespace, frontend Service). The password Secret is generated from a file that is
git-ignored and starts as a placeholder: a real password never lands in the scaffold.
"""

import json
import os
from pathlib import Path

import yaml

from executor_dind.function_config import json_schema
from executor_dind.naming import PASSWORD_PLACEHOLDER
from executor_dind.spec import API_VERSION, KIND

FRONTEND_SERVICE = Path("base/sourcegraph/frontend/sourcegraph-frontend.Service.yaml")
TEMPLATE = Path("instances/template/kustomization.template.yaml")
SCHEMA_FILE = "executor-dind.schema.json"
PASSWORD_FILE = "executor-password.txt"


class ScaffoldError(Exception):
    pass


def find_checkout(start: Path) -> Path:
    """The deploy-sourcegraph-k8s checkout containing start (walking up)."""
    for directory in (start, *start.parents):
        if (directory / "base" / "sourcegraph").is_dir() and (directory / "components").is_dir():
            return directory
    raise ScaffoldError(
        f"{start} is not inside a deploy-sourcegraph-k8s checkout (no base/sourcegraph and components/ found "
        "walking up): run init from the checkout, or pass a directory inside it"
    )


def _template_namespace(checkout: Path) -> str:
    try:
        template = yaml.safe_load((checkout / TEMPLATE).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    namespace = template.get("namespace") if isinstance(template, dict) else None
    return namespace if isinstance(namespace, str) else ""


def _frontend_port(checkout: Path) -> int:
    try:
        service = yaml.safe_load((checkout / FRONTEND_SERVICE).read_text()) or {}
        ports = service["spec"]["ports"]
        return next(int(p["port"]) for p in ports if p.get("name") == "http")
    except (OSError, yaml.YAMLError, KeyError, TypeError, StopIteration, ValueError):
        return 30080


def files(checkout: Path, target: Path, namespace: str) -> dict[str, str]:
    base = os.path.relpath(checkout / "base", target)
    port = _frontend_port(checkout)
    url = f"http://sourcegraph-frontend:{port}"
    ns_line = f"namespace: {namespace}\n" if namespace else ""
    kustomization = (
        "# Sourcegraph with executors (Docker-in-Docker) added by executor-dind.\n"
        "# Build: kustomize build --enable-alpha-plugins --enable-exec .\n"
        "# (kubectl kustomize skips KRM exec functions: see executor-dind's README for the legacy plugin.)\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"{ns_line}"
        "resources:\n"
        f"  - {base}/sourcegraph\n"
        f"  - {base}/monitoring\n"
        "secretGenerator:\n"
        "  # The executors' shared secret: the value of `executors.accessToken` in the site configuration.\n"
        f"  # Put it in {PASSWORD_FILE} (git-ignored); never commit it.\n"
        "  - name: executor-secret\n"
        "    files:\n"
        f"      - password={PASSWORD_FILE}\n"
        "transformers:\n"
        "  - executor-dind.yaml\n"
    )
    config = (
        f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
        f"apiVersion: {API_VERSION}\n"
        f"kind: {KIND}\n"
        "metadata:\n"
        "  name: executors\n"
        "  annotations:\n"
        "    config.kubernetes.io/function: |\n"
        "      exec:\n"
        "        path: executor-dind\n"
        "spec:\n"
        f"  # Found in this checkout: the sourcegraph-frontend Service listens on {port}.\n"
        "  frontend:\n"
        f"    url: {url}\n"
        "  queues:\n"
        "    - name: all\n"
        "      queueNames: [batches, codeintel]\n"
        "  hardening:\n"
        "    profile: recommended   # baseline | recommended | strict\n"
    )
    return {
        "kustomization.yaml": kustomization,
        "executor-dind.yaml": config,
        SCHEMA_FILE: json.dumps(json_schema(), indent=2) + "\n",
        PASSWORD_FILE: PASSWORD_PLACEHOLDER + "\n",
        ".gitignore": f"{PASSWORD_FILE}\n",
    }


def scaffold(directory: Path | None, cwd: Path, force: bool) -> list[Path]:
    """Write the overlay; DIR defaults to <checkout>/instances/executors."""
    start = (directory or cwd).resolve()
    checkout = find_checkout(next(p for p in (start, *start.parents) if p.exists()))
    target = (directory or checkout / "instances" / "executors").resolve()
    content = files(checkout, target, _template_namespace(checkout))
    if (target / PASSWORD_FILE).exists():
        del content[PASSWORD_FILE]  # never overwrite a real password, not even with --force
    existing = [name for name in content if (target / name).exists()]
    if existing and not force:
        raise ScaffoldError(f"{target} already has {', '.join(existing)}: pass --force to overwrite")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in content.items():
        path = target / name
        if name == PASSWORD_FILE:
            # Created owner-only before anything is written into it.
            path.touch(mode=0o600, exist_ok=True)
            path.chmod(0o600)
        path.write_text(text)
        written.append(path)
    return written
