"""The docs/ pages stay true: each block a page shows is what the tool does, found by page and marker.

Moved here with their blocks from README.md: the config example lists every field, the module flow names modules
that exist, the vendor block writes the components, the upstream audit block is what the audit prints, checkov's
totals count their rows. Added with the pages: init's diff, migrate's output, the skew warning, the components'
image tags, the Secret made from a pipe, the removal's label, and secrets hygiene over every documented command."""

import base64
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

from conftest import ROOT, run
from doc_blocks import block, blocks


def _schema_fields(node: dict, prefix: str = "") -> set[str]:
    """Dotted field paths of a JSON Schema object (list items and nullable objects followed)."""
    fields = set()
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        fields.add(path)
        for nested in (sub, sub.get("items") or {}, *(sub.get("anyOf") or []), *(sub.get("oneOf") or [])):
            if isinstance(nested, dict) and "properties" in nested:
                fields |= _schema_fields(nested, path)
    return fields


def _example_fields(value, prefix: str = "") -> set[str]:
    """Dotted field paths of an example config (list items merged)."""
    fields = set()
    if isinstance(value, list):
        return set().union(*(_example_fields(item, prefix) for item in value)) if value else set()
    if isinstance(value, dict):
        for name, sub in value.items():
            path = f"{prefix}.{name}" if prefix else name
            fields.add(path)
            fields |= _example_fields(sub, path)
    return fields


def test_config_guide_block_lists_every_field_of_the_schema():
    from executor_dind.function_config import json_schema, parse_function_config

    config = yaml.safe_load(block("docs/config.md", "used by tests: every field of the schema"))
    jsonschema.validate(config, json_schema())
    parse_function_config(config)
    schema = json_schema()["properties"]["spec"]
    maps = ("env", "resources", "daemonConfig", "nodeSelector", "podLabels")  # free-form maps: their keys are data
    listed = {f for f in _example_fields(config["spec"]) if not any(f".{m}." in f".{f}" for m in maps)}
    assert listed == _schema_fields(schema)


def test_overlay_configs_follow_the_schema():
    from executor_dind.function_config import json_schema, parse_function_config

    configs = [
        doc
        for path in sorted((ROOT / "overlays").rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "ExecutorDind"
    ]
    assert configs, "the overlays show the function's config"
    for config in configs:
        jsonschema.validate(config, json_schema())
        parse_function_config(config)


def test_development_module_flow_names_modules_that_exist():
    flow = block("docs/development.md", "used by tests: module flow")
    package = ROOT / "plugin" / "executor_dind"
    names = set(re.findall(r"[a-z_]+(?=/<)|(?<![<\w])[a-z_]+(?=[ ,)\n-])", flow.split("components/")[0]))
    names -= {"plugin", "executor_dind", "input", "config", "plan", "output", "check", "apply"}
    missing = [n for n in sorted(names) if not any(package.rglob(f"{n}.py")) and not any(package.rglob(f"{n}/"))]
    assert missing == []


# Every shell block says whether it runs: `runnable <name>: <setup>` with a test below (or above) that runs it,
# or `not run: <why>`.
RUNNABLE = {"make", "quick-start", "install", "vendor"}  # README's three, docs/ways-of-use.md's vendor


def test_every_shell_block_is_run_or_says_why_not():
    shell = [b for b in blocks() if b.lang == "sh" and b.page != "docs/helm.md"]  # helm.md: test_docs_helm.py
    for page, marker, _, body in shell:
        assert marker.startswith(("runnable ", "not run: ", "used by tests: ")), f"{page}: unmarked block\n{body}"
        if marker.startswith("runnable "):
            assert marker.split()[1].rstrip(":") in RUNNABLE, (page, marker)
    named = {b.marker.split()[1].rstrip(":") for b in shell if b.marker.startswith("runnable ")}
    assert named == RUNNABLE


def test_vendor_block_writes_the_components_into_the_checkout(upstream, executor_dind, tmp_path):
    body = block("docs/ways-of-use.md", "runnable vendor:")
    checkout = tmp_path / "deploy-sourcegraph-k8s"
    shutil.copytree(upstream, checkout, ignore=shutil.ignore_patterns(".git"))
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(executor_dind).parent), os.environ["PATH"]]))
    result = run(["bash", "-euo", "pipefail", "-c", body], cwd=checkout, env=env)
    assert result.returncode == 0, result.stderr
    ours = sorted(str(p.relative_to(ROOT / "components")) for p in (ROOT / "components").rglob("*.yaml"))
    for relative in ours:
        vendored = (checkout / "components" / relative).read_text()
        assert vendored == (ROOT / "components" / relative).read_text(), relative
    assert (checkout / "components" / "executors" / "dind" / "kustomization.yaml").is_file()  # upstream's untouched


def test_upstream_audit_block_is_what_the_audit_prints(kustomize, upstream, executor_dind, tmp_path):
    shown = block("docs/audit.md", "used by tests: audit output upstream")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    dind = upstream / "components" / "executors" / "dind"
    overlay.joinpath("kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "namespace": "sourcegraph",
                "resources": [os.path.relpath(upstream / "base" / "sourcegraph", overlay)],
                "components": [
                    os.path.relpath(dind, overlay),
                    os.path.relpath(dind / "private-docker-registry", overlay),
                ],
                "secretGenerator": [{"name": "executor-secret", "literals": ["password=not-a-real-secret"]}],
            }
        )
    )
    built = run([kustomize, "build", str(overlay)])
    assert built.returncode == 0, built.stderr
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(built.stdout)
    audited = run([executor_dind, "audit", str(rendered)])
    assert audited.returncode == 1, audited.stdout
    printed = audited.stdout.splitlines()
    ids = re.compile(r"EXD\d{3}")
    assert set(ids.findall(shown)) == {line.split()[1] for line in printed}
    for line in shown.splitlines():
        if re.fullmatch(r"warning (EXD\d{3}, )+EXD\d{3} \(.*\)", line):
            continue  # the summary of the remaining warnings
        prefix = line.split("...")[0]
        assert any(p.startswith(prefix) for p in printed), line


def test_checkov_totals_count_the_failing_rows():
    text = (ROOT / "docs/evidence-checkers.md").read_text()
    start = text.index("| check | title |")
    table = text[start : text.index("\n\n", start)].splitlines()
    rows = [row.split("|")[1:-1] for row in table[2:]]
    *checks, totals = rows
    for column in range(2, len(totals)):
        failing = sum("✗" in row[column] for row in checks for _ in row[0].split("/"))
        assert totals[column].strip() == f"**{failing}**", (totals[column], column)


# -- the pages written for users ----------------------------------------------------------------------------------


def template_instance(upstream: Path, tmp_path: Path, name: str = "my-instance") -> Path:
    """A copy of the checkout with instances/NAME made from the template, as upstream instructs."""
    checkout = tmp_path / "deploy-sourcegraph-k8s"
    shutil.copytree(upstream, checkout, ignore=shutil.ignore_patterns(".git"))
    for path in checkout.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    instance = checkout / "instances" / name
    instance.mkdir()
    for stem in ("kustomization", "buildConfig"):
        shutil.copy(checkout / "instances/template" / f"{stem}.template.yaml", instance / f"{stem}.yaml")
    return checkout


def test_init_diff_is_what_init_adds_to_the_template(upstream, executor_dind, tmp_path):
    shown = block("docs/init.md", "used by tests: init diff")
    added = [line[1:] for line in shown.splitlines()]
    assert all(line.startswith("+") for line in shown.splitlines())
    checkout = template_instance(upstream, tmp_path)
    kustomization = checkout / "instances/my-instance/kustomization.yaml"
    before = kustomization.read_text()
    result = run([executor_dind, "init", "--into", "instances/my-instance"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    assert kustomization.read_text() == before + "".join(f"{line}\n" for line in added)


def test_migrate_output_is_what_migrate_prints(upstream, executor_dind, tmp_path):
    from console.test_adopt import upstream_instance

    shown = block("docs/migrating.md", "used by tests: migrate output").splitlines()
    checkout = template_instance(upstream, tmp_path, "mine")
    upstream_instance(checkout)
    result = run([executor_dind, "migrate", "instances/mine"], cwd=checkout)
    assert result.returncode == 0, result.stderr
    said = [line for line in shown if line.startswith("executor-dind: ")]
    assert shown == result.stdout.splitlines() + said
    assert said == result.stderr.splitlines()
    assert "kubectl -n ns-sourcegraph delete" in block("docs/migrating.md", "not run: needs a cluster")


def test_skew_warning_is_what_a_render_prints(upstream, kustomize, executor_dind, tmp_path):
    (shown,) = block("docs/upgrade-and-removal.md", "used by tests: skew warning").splitlines()
    pinned = re.search(r"\((\S+)\)", shown)[1]
    config = tmp_path / "executor-dind.yaml"
    config.write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: executors}\n"
        f"spec:\n  images: {{executor: {pinned}}}\n"
    )
    base = run([kustomize, "build", str(upstream / "base" / "sourcegraph")])
    assert base.returncode == 0, base.stderr
    rendered = run([executor_dind, "render", "--config", str(config), "-"], input=base.stdout)
    assert rendered.returncode == 0, rendered.stderr
    assert f"executor-dind: warning: {shown}\n" in rendered.stderr
    # Positive control: the defaults follow the frontend's tag, and nothing warns of a skew.
    config.write_text("apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: executors}\n")
    following = run([executor_dind, "render", "--config", str(config), "-"], input=base.stdout)
    assert following.returncode == 0 and "version skew" not in following.stderr, following.stderr


def test_components_image_tags_set_the_executors_images(kustomize, tmp_path):
    images = yaml.safe_load(block("docs/upgrade-and-removal.md", "used by tests: components image tags"))
    overlay = tmp_path / "instance"
    shutil.copytree(ROOT / "components", tmp_path / "components")
    overlay.mkdir()
    kustomization = {"components": ["../components/executor-dind"], **images}
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = run([kustomize, "build", str(overlay)])
    assert built.returncode == 0, built.stderr
    used = set(re.findall(r"image: (\S+)", built.stdout))
    assert used == {f"{entry['name']}:{entry['newTag']}" for entry in images["images"]}
    # Positive control: without the entry the components' own pins, digest and all.
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({"components": ["../components/executor-dind"]}))
    pinned = set(re.findall(r"image: (\S+)", run([kustomize, "build", str(overlay)]).stdout))
    assert len(pinned) == 2 and all("@sha256:" in image for image in pinned)


def test_secret_from_a_pipe_holds_the_token(kubectl, tmp_path):
    body = block("docs/gitops.md", "used by tests: create the Secret")
    token = "not-a-real-token-0123"
    env = dict(os.environ, EXECUTORS_ACCESS_TOKEN=token, KUBECONFIG=str(tmp_path / "none"))
    env["PATH"] = os.pathsep.join([str(Path(kubectl).parent), env["PATH"]])
    result = run(["bash", "-euo", "pipefail", "-c", f"{body.rstrip()} --dry-run=client -o yaml"], env=env)
    assert result.returncode == 0, result.stderr
    secret = yaml.safe_load(result.stdout)
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("executor-secret", "ns-sourcegraph")
    assert base64.b64decode(secret["data"]["password"]).decode() == token
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_removal_selects_every_object_executor_dind_adds(executor_dind, upstream, kustomize, tmp_path):
    """The label the removal commands select by is on every object the strict, autoscaled render adds."""
    shown = block("docs/upgrade-and-removal.md", "not run: needs a cluster; what carries the label")
    selected = set()
    for command in shown.replace("\\\n", " ").splitlines():
        words = shlex.split(command.split("#")[0])
        assert words[words.index("-l") + 1] == "app.kubernetes.io/part-of=executor-dind"
        selected |= set(words[words.index("delete") + 1].split(","))
    config = tmp_path / "executor-dind.yaml"
    config.write_text(
        "apiVersion: executor-dind.dev/v1alpha1\nkind: ExecutorDind\nmetadata: {name: executors}\nspec:\n"
        "  namespace: executors\n  frontend: {url: 'http://sourcegraph-frontend.sg.svc.cluster.local:30080'}\n"
        "  hardening: {profile: strict, gvisor: {createRuntimeClass: true}}\n"
        "  queues: [{name: all, queueNames: [batches, codeintel], autoscaling: {maxReplicas: 3}}]\n"
    )
    base = run([kustomize, "build", str(upstream / "base" / "sourcegraph")])
    before = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(base.stdout)}
    rendered = run([executor_dind, "render", "--config", str(config), "-"], input=base.stdout)
    assert rendered.returncode == 0, rendered.stderr
    added = [d for d in yaml.safe_load_all(rendered.stdout) if (d["kind"], d["metadata"]["name"]) not in before]
    assert len(added) == 11  # RuntimeClass, Namespace, ServiceAccount, ConfigMap, 2 Services, Deployment,
    # ScaledObject, StatefulSet, 2 NetworkPolicies
    for obj in added:
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "executor-dind", obj["metadata"]["name"]
        assert obj["kind"].lower() in selected, obj["kind"]
        if obj["kind"] == "StatefulSet":  # its claims take the selector's labels
            assert obj["spec"]["selector"]["matchLabels"]["app.kubernetes.io/part-of"] == "executor-dind"
    assert "persistentvolumeclaim" in selected


def test_every_used_by_tests_block_is_read_by_a_test():
    """A `used by tests:` marker is a promise: some test finds its block by that marker."""
    sources = "".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))
    for found in blocks():
        if found.marker.startswith("used by tests:"):
            label = found.marker.removeprefix("used by tests:").split(" (")[0].strip()
            assert f"used by tests: {label}" in sources, (found.page, found.marker)


# -- secrets hygiene: no documented command leaves the token or a render where git would pick it up -------------

# What a command produces that may hold the executors' token: the token itself, a Secret, or a render (the build of
# an instance holds the password Secret its generator makes).
HOLDS_A_SECRET = re.compile(
    r"ACCESS_TOKEN|create secret|kustomize build|kubectl kustomize|executor-dind render|helm (template|install)|"
    r"kpt fn (render|eval)"
)
REDIRECT = re.compile(r"(?<![0-9&])>>?\s*(?!&)([^\s;|&]+)|\btee\s+(?:-a\s+)?([^\s;|&]+)")
# A render written to a file on purpose, each with the reason it holds no secret, checked below.
NO_SECRET_IN = {("docs/helm.md", "executors.yaml"): "the chart's values name an existing Secret"}


def documented_commands() -> list[tuple[str, str]]:
    """(page, command) for every shell block of README and docs/: continuation lines and pipelines joined."""
    commands = []
    for found in blocks():
        if found.lang != "sh":
            continue
        text = re.sub(r"\\\n|\|\s*\n", lambda m: " " if m[0].startswith("\\") else "| ", found.body)
        commands += [(found.page, line.split(" #")[0].strip()) for line in text.splitlines() if line.strip()]
    return commands


def written_secrets(commands: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(page, command, target) for each command that writes what may hold a secret to a file, ciphertext aside."""
    written = []
    for page, command in commands:
        if not HOLDS_A_SECRET.search(command):
            continue
        if re.search(r"\|\s*sops\s+(--encrypt|-e)\b", command):  # piped into SOPS: only ciphertext is written
            continue
        for match in REDIRECT.finditer(command):
            target = match[1] or match[2]
            if not target.startswith("/dev/"):
                written.append((page, command, target))
    return written


def ignored_by_the_instance(upstream: Path, executor_dind: str, tmp_path: Path, paths: list[str]) -> set[str]:
    """Which paths `git check-ignore` says git would not pick up, in a checkout whose instance `init` made."""
    checkout = template_instance(upstream, tmp_path)
    assert run([executor_dind, "init", "--into", "instances/my-instance"], cwd=checkout).returncode == 0
    assert run(["git", "init", "-q"], cwd=checkout).returncode == 0
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=checkout,
        input="\n".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode in (0, 1), checked.stderr
    return set(checked.stdout.splitlines())


def test_no_documented_command_leaves_a_secret_where_git_picks_it_up(upstream, executor_dind, tmp_path):
    written = written_secrets(documented_commands())
    pages_of = {(page, target) for page, _, target in written}
    # The quick start writes the token into the instance's password file; helm.md renders the chart to a file.
    assert ("README.md", "instances/my-instance/executor-password.txt") in pages_of
    assert set(NO_SECRET_IN) <= pages_of
    values = yaml.safe_load(block("docs/helm.md", "file values.yaml"))
    assert "frontendExistingSecret" in values["executor"] and "frontendPassword" not in values["executor"]
    # Negative controls, run through the same checks: a render or the token in a file git would add is caught.
    planted = [
        (
            "x",
            "kustomize build --enable-exec instances/my-instance > instances/my-instance/out.yaml",
        ),
        ("x", "printf '%s' \"$EXECUTORS_ACCESS_TOKEN\" | tee token.txt"),
    ]
    targets = [target for _, _, target in written] + [t for _, _, t in written_secrets(planted)]
    assert targets[-2:] == ["instances/my-instance/out.yaml", "token.txt"]
    ignored = ignored_by_the_instance(upstream, executor_dind, tmp_path, targets)
    assert "instances/my-instance/executor-password.txt" in ignored
    assert not {"instances/my-instance/out.yaml", "token.txt"} & ignored
    exposed = [(page, target) for page, _, target in written if target not in ignored]
    assert exposed == [*NO_SECRET_IN] * 2  # helm.md's Helm 4 and Helm 3 blocks, each to executors.yaml


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces to hyphens)."""
    headings = re.findall(r"(?m)^#+ (.*)$", re.sub(r"(?ms)^ *```.*?^ *```", "", page.read_text()))
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_anchor_names_a_heading_of_its_page():
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)]+)\)", page.read_text()):
            path, _, anchor = target.partition("#")
            if anchor and path.endswith(".md") and anchor not in heading_anchors((page.parent / path).resolve()):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
    # Positive control: a heading this page links to is found.
    assert "quick-start-on-your-instance" in heading_anchors(ROOT / "README.md")


def test_the_index_links_every_page():
    index = (ROOT / "docs" / "README.md").read_text()
    linked = {target.split("#")[0] for target in re.findall(r"\]\(([^)]+)\)", index)}
    pages = {str(page.relative_to(ROOT / "docs")) for page in (ROOT / "docs").rglob("*.md")} - {"README.md"}
    assert pages - linked == set()
    assert "../README.md" in linked and "helm.md" in pages  # the landing page, and one page found both ways
