"""Evidence for issue 21's closing note (not shipped, not a test): the attack corpus's size per class, and the
audit's verdict on the render of every profile, on upstream's executors component and on the Helm chart.

    .venv/bin/python bench/audit_evidence.py

Corpus sizes are read from the corpus files' source (tests/checkers/test_attacks*.py: the grouped CORPUS dicts,
and the `# --- class ---` sections of test_attacks.py's flat one). Verdicts run the installed console script as
users do: `executor-dind render --config CFG` over the upstream base built by the standalone kustomize, then
`executor-dind audit --config CFG`; upstream's components/executors/dind (with its private-docker-registry) built
by kustomize and `helm template` of the sourcegraph-executor dind chart, audited without a config. Needs
../shared/upstream and .tools/bin (kustomize, helm): `make tools`.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT.parent / "shared" / "upstream"
K8S = UPSTREAM / "deploy-sourcegraph-k8s"
CHART = UPSTREAM / "deploy-sourcegraph-helm" / "charts" / "sourcegraph-executor" / "dind"
TOOLS = ROOT / ".tools" / "bin"
EXECUTOR_DIND = ROOT / ".venv" / "bin" / "executor-dind"
CORPUS_FILES = ("test_attacks.py", "test_attacks_privilege.py", "test_attacks_policy.py")
LINE = re.compile(r"^(?P<severity>error|warning|info) (?P<rule>EXD\d{3})\b")


def corpus_sizes() -> dict[str, int]:
    """class -> number of mutations, over the corpus files."""
    sizes: dict[str, int] = {}
    for name in CORPUS_FILES:
        source = (ROOT / "tests" / "checkers" / name).read_text()
        corpus = next(node.value for node in ast.walk(ast.parse(source)) if _assigns(node, "CORPUS"))
        assert isinstance(corpus, ast.Dict)
        if all(isinstance(value, ast.Dict) for value in corpus.values):
            for group, cases in zip(corpus.keys, corpus.values, strict=True):
                assert isinstance(group, ast.Constant) and isinstance(cases, ast.Dict)
                sizes[str(group.value)] = sizes.get(str(group.value), 0) + len(cases.keys)
            continue
        # A flat dict: its `# --- class ---` comments divide it.
        lines = source.splitlines()
        headers = [(n, m.group(1)) for n, line in enumerate(lines, 1) if (m := re.match(r"\s*# --- (.+?) ---", line))]
        for key in corpus.keys:
            assert key is not None
            group = [title for line, title in headers if line < key.lineno][-1]
            sizes[group] = sizes.get(group, 0) + 1
    return sizes


def _assigns(node: ast.AST, name: str) -> bool:
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name and node.value is not None
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)


def built(overlay: Path, body: str) -> str:
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(body)
    result = run([str(TOOLS / "kustomize"), "build", str(overlay)])
    if result.returncode:
        sys.exit(f"kustomize build {overlay}: {result.stderr}")
    return result.stdout


def verdict(stream: Path, config: Path | None = None) -> tuple[int, list[str], list[str]]:
    """(exit code, error rule IDs, warning rule IDs) of `executor-dind audit`."""
    args = [str(EXECUTOR_DIND), "audit", *(["--config", str(config)] if config else []), str(stream)]
    result = run(args)
    found: dict[str, set[str]] = {"error": set(), "warning": set()}
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        if match and match["severity"] in found:
            found[match["severity"]].add(match["rule"])
    return result.returncode, sorted(found["error"]), sorted(found["warning"])


def profiles() -> dict[str, dict]:
    sys.path[:0] = [str(ROOT / "tests")]
    from checkers.conftest import PROFILES  # the profiles the checker tests render

    return PROFILES


def main() -> None:
    import yaml

    sizes = corpus_sizes()
    print(f"Attack corpus: {sum(sizes.values())} mutations in {len(sizes)} classes\n")
    print("| class | mutations |\n|---|---|")
    for group, size in sizes.items():
        print(f"| {group} | {size} |")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = work / "base.yaml"
        base_body = (
            f"namespace: sourcegraph\nresources:\n  - {os.path.relpath(K8S / 'base' / 'sourcegraph', work / 'base')}\n"
        )
        base.write_text(built(work / "base", base_body))
        for profile, spec in profiles().items():
            config = work / f"config-{profile}.yaml"
            document = {
                "apiVersion": "executor-dind.dev/v1alpha1",
                "kind": "ExecutorDind",
                "metadata": {"name": "executors"},
                "spec": spec,
            }
            config.write_text(yaml.safe_dump(document))
            rendered = run([str(EXECUTOR_DIND), "render", "--config", str(config), str(base)])
            if rendered.returncode:
                rows.append((f"render of profile {profile}", "render failed", [rendered.stderr.strip()[:200]], []))
                continue
            stream = work / f"render-{profile}.yaml"
            stream.write_text(rendered.stdout)
            rows.append((f"render of profile {profile}", *verdict(stream, config)))
        dind = K8S / "components" / "executors" / "dind"
        component = work / "component.yaml"
        relative = os.path.relpath(dind, work / "component")
        component.write_text(
            built(
                work / "component",
                f"namespace: sourcegraph\ncomponents:\n  - {relative}\n  - {relative}/private-docker-registry\n"
                "secretGenerator:\n  - name: executor-secret\n    literals: [password=not-a-real-secret]\n",
            )
        )
        rows.append(
            ("upstream components/executors/dind + private-docker-registry (kustomize build)", *verdict(component))
        )
        helm = run([str(TOOLS / "helm"), "template", "executors", str(CHART)])
        if helm.returncode:
            sys.exit(f"helm template {CHART}: {helm.stderr}")
        chart = work / "chart.yaml"
        chart.write_text(helm.stdout)
        rows.append(("Helm chart sourcegraph-executor/dind (helm template)", *verdict(chart)))
    print("\n| input | exit | error rules | warning rules |\n|---|---|---|---|")
    for name, code, errors, warnings in rows:
        print(f"| {name} | {code} | {', '.join(errors) or '-'} | {', '.join(warnings) or '-'} |")


if __name__ == "__main__":
    main()
