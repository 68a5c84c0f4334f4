"""`make bench`: whole-process timings of executor-dind beside their floors, as ratios from one run.

Every figure is the median of alternating runs (function, floor, function, floor, ...) so machine noise hits
both sides alike. executor-dind is measured as users run it: `pip install .` into a fresh venv (not the
project's editable one), and the floor runs with that venv's Python and PyYAML. Needs the upstream base beside
the project (../shared/upstream/deploy-sourcegraph-k8s), kubectl, kpt and a standalone kustomize v5 (`make
tools`). The Helm row needs helm and the sourcegraph-executor dind chart (HELM=path, HELM_CHART=dir; the peers
tooling in ../shared/tools/peers.sh fetches both): without them it is skipped, with the reason.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT.parent / "shared" / "upstream" / "deploy-sourcegraph-k8s"
FLOOR = Path(__file__).resolve().parent / "floor.py"
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
CONFIG = """\
apiVersion: executor-dind.dev/v1alpha1
kind: ExecutorDind
metadata:
  name: executors
  annotations:
    config.kubernetes.io/local-config: "true"
spec: {}
"""
KPTFILE = (
    "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: bench\npipeline:\n  mutators:\n    - exec: {exec}\n"
)
DEPLOYMENT = """\
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: app-{i}
    labels: {{app: app-{i}, deploy: sourcegraph}}
    annotations:
      config.kubernetes.io/index: '0'
      config.kubernetes.io/path: 'app-{i}.yaml'
      internal.config.kubernetes.io/path: 'app-{i}.yaml'
  spec:
    replicas: 1
    selector:
      matchLabels: {{app: app-{i}}}
    template:
      metadata:
        labels: {{app: app-{i}}}
      spec:
        containers:
          - name: app
            image: index.docker.io/sourcegraph/app:6.2.1106
            args: ["--port", "8080", "--verbose"]
            env:
              - {{name: A, value: "1"}}
              - {{name: B, value: "two"}}
            ports:
              - {{containerPort: 8080, name: http}}
            resources:
              limits: {{cpu: "1", memory: 1Gi}}
              requests: {{cpu: 100m, memory: 256Mi}}
"""


def measure(
    argv: list[str], stdin: Path | None = None, cwd: Path | None = None, codes: tuple[int, ...] = (0,)
) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process, output discarded; an exit code not in `codes` fails."""
    with open(stdin or os.devnull, "rb") as source:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdin=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in codes:
        raise SystemExit(f"bench: {' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss


def alternate(pairs: dict[str, tuple], runs: int = RUNS, prepare=None) -> dict[str, tuple[float, int]]:
    """Median wall time and median peak RSS per named command, runs interleaved."""
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pairs}
    for _ in range(runs):
        for name, (argv, stdin, cwd, *codes) in pairs.items():
            if prepare:
                prepare(name)
            samples[name].append(measure(argv, stdin, cwd, *codes))
    return {
        name: (statistics.median(s[0] for s in values), int(statistics.median(s[1] for s in values)))
        for name, values in samples.items()
    }


def run(argv: list[str], **kwargs) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs).stdout


def tool(name: str) -> str:
    local = ROOT / ".tools" / "bin" / name
    found = str(local) if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"bench: {name} not found (run `make tools`)")
    return found


def write_overlays(work: Path) -> tuple[Path, Path, Path, Path, Path]:
    base = os.path.relpath(UPSTREAM / "base", work / "x")
    components = os.path.relpath(ROOT / "components", work / "x")
    plain, krm, identity, legacy, source = (work / name for name in ("plain", "krm", "identity", "legacy", "source"))
    for directory in (plain, krm, identity, legacy, source):
        directory.mkdir()
    (source / "kustomization.yaml").write_text(f"namespace: sourcegraph\nresources: [{base}]\n")
    (plain / "kustomization.yaml").write_text(
        f"namespace: sourcegraph\nresources: [{base}]\n"
        f"components: [{components}/executor-dind, {components}/executor-dind/private-registry]\n"
    )
    (krm / "kustomization.yaml").write_text(f"namespace: sourcegraph\nresources: [{base}]\ntransformers: [fn.yaml]\n")
    annotation = "  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: executor-dind\n"
    (krm / "fn.yaml").write_text(CONFIG.replace("  annotations:\n", annotation, 1))
    # The same overlay with `cat` as the function: what kustomize's exec protocol costs by itself.
    (identity / "kustomization.yaml").write_text((krm / "kustomization.yaml").read_text())
    (identity / "fn.yaml").write_text((krm / "fn.yaml").read_text().replace("path: executor-dind", "path: cat"))
    # The same config as a legacy exec plugin (what kubectl users run).
    (legacy / "kustomization.yaml").write_text((krm / "kustomization.yaml").read_text())
    (legacy / "fn.yaml").write_text(CONFIG)
    return plain, krm, identity, legacy, source


def synthetic(work: Path, count: int) -> Path:
    path = work / f"rl-{count}.yaml"
    with open(path, "w") as out:
        out.write("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
        for i in range(count):
            out.write(DEPLOYMENT.format(i=i))
        out.write("functionConfig:\n" + "".join("  " + line for line in CONFIG.splitlines(keepends=True)))
    return path


RENDER_CONFIG = """\
apiVersion: executor-dind.dev/v1alpha1
kind: ExecutorDind
metadata:
  name: executors
spec:
  namespace: sourcegraph
  frontend:
    url: http://sourcegraph-frontend:30080
    passwordSecret: {name: executor-secret}
  queues:
    - name: batches
"""
# The chart's equivalent of RENDER_CONFIG: one queue, the frontend URL, an existing Secret (as peers.sh renders it).
HELM_SETTINGS = [
    "--set",
    "executor.frontendUrl=http://sourcegraph-frontend:30080",
    "--set",
    "executor.frontendExistingSecret=executor-secret",
    "--set",
    "executor.queueName=batches",
    "--namespace",
    "sourcegraph",
]


CLUSTER_WORKLOAD = """\
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: ns-{n}, labels: {{app: {name}}}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}, tier: {tier}}}}}
    spec:
      containers:
        - name: {container}
          image: {image}
          ports: [{{name: http, containerPort: 8080}}, {{name: metrics, containerPort: 9090}}]
          resources: {{limits: {{cpu: "1", memory: 1Gi}}}}
"""
CLUSTER_POLICY = """\
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: policy-{i}, namespace: ns-{n}}}
spec:
  podSelector: {{matchLabels: {{tier: {tier}}}}}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{{podSelector: {{matchLabels: {{tier: web}}}}}}]
      ports: [{{port: http}}]
  egress:
    - to: [{{namespaceSelector: {{matchLabels: {{team: t{team}}}}}, podSelector: {{matchLabels: {{tier: db}}}}}}]
      ports: [{{port: 5432}}]
    - to: [{{ipBlock: {{cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16]}}}}]
      ports: [{{port: 443}}]
"""
TIERS = ("web", "api", "db", "cache", "worker")
LOAD = "import sys, yaml; list(yaml.load_all(open(sys.argv[1]), Loader=yaml.CSafeLoader))"


def cluster_stream(work: Path, workloads: int, namespaces: int = 50) -> Path:
    """A cluster-sized stream for the audit: `workloads` Deployments and a tenth as many NetworkPolicies across
    `namespaces` namespaces (labelled by team), one workload in each namespace an executor."""
    path = work / f"cluster-{workloads}.yaml"
    per_namespace = workloads // namespaces
    with open(path, "w") as out:
        for n in range(namespaces):
            out.write(f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{n}, labels: {{team: t{n % 5}}}}}\n")
            for i in range(per_namespace):
                executor = i == 0
                out.write(
                    CLUSTER_WORKLOAD.format(
                        name="executor" if executor else f"app-{i}",
                        n=n,
                        tier="worker" if executor else TIERS[i % len(TIERS)],
                        container="executor" if executor else "app",
                        image="sourcegraph/executor:6.0.0" if executor else "registry.example.com/app:1",
                    )
                )
            for i in range(per_namespace // 10):
                out.write(CLUSTER_POLICY.format(i=i, n=n, tier=TIERS[i % len(TIERS)], team=i % 5))
    return path


def fresh_install(work: Path) -> Path:
    """executor-dind as users get it: `pip install .` into a new venv; returns the venv's bin directory."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True)
    return venv / "bin"


def helm_peer() -> tuple[str, Path] | str:
    """helm and the sourcegraph-executor dind chart, or why the Helm row is skipped."""
    scratch = Path(os.environ.get("SCRATCH") or Path(tempfile.gettempdir()) / "exd-peers")
    helm = os.environ.get("HELM") or shutil.which("helm") or str(scratch / "bin" / "helm")
    chart = Path(os.environ.get("HELM_CHART") or scratch / "helm" / "charts" / "sourcegraph-executor" / "dind")
    if not os.access(helm, os.X_OK):
        return "no helm (HELM=path, or run ../shared/tools/peers.sh, which installs one)"
    if not (chart / "Chart.yaml").is_file():
        return f"no sourcegraph-executor dind chart at {chart} (HELM_CHART=dir, or run ../shared/tools/peers.sh)"
    return helm, chart


def row(label: str, value: float, floor: float, target: str, unit: str = "ms") -> str:
    scale = 1000 if unit == "ms" else 1 / 1024
    return f"| {label} | {value * scale:,.1f} {unit} | {floor * scale:,.1f} {unit} | {value / floor:.2f}x | {target} |"


def main() -> int:
    if not UPSTREAM.is_dir():
        raise SystemExit(f"bench: the upstream base is not at {UPSTREAM}")
    lines = ["| measurement | executor-dind | floor | ratio | target |", "|---|---:|---:|---:|---|"]
    notes = []
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as tmp:
        work = Path(tmp)
        bin_dir = fresh_install(work)
        python, function = str(bin_dir / "python"), [str(bin_dir / "executor-dind")]
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{ROOT / '.tools' / 'bin'}{os.pathsep}{os.environ['PATH']}"
        kustomize, kpt, kubectl = tool("kustomize"), tool("kpt"), tool("kubectl")
        plain, krm, identity, legacy, source = write_overlays(work)
        os.environ["KUSTOMIZE_PLUGIN_HOME"] = str(work / "plugin-home")
        run([*function, "install-plugin", "--plugin-home", os.environ["KUSTOMIZE_PLUGIN_HOME"]])
        package = work / "package"
        package.mkdir()
        (package / "base.yaml").write_text(run([kubectl, "kustomize", str(source)]))
        (work / "config.yaml").write_text(CONFIG)
        resource_list = work / "rl-upstream.yaml"
        resource_list.write_text(run([kpt, "fn", "source", str(package), "--fn-config", str(work / "config.yaml")]))
        items = run(
            [
                python,
                "-c",
                "import sys,yaml;print(len(yaml.load(open(sys.argv[1]),Loader=yaml.CSafeLoader)['items']))",
                str(resource_list),
            ]
        ).strip()

        upstream = alternate(
            {"fn": (function, resource_list, None), "floor": ([python, str(FLOOR), str(resource_list)], None, None)}
        )
        lines.append(
            row(
                f"function, upstream base ResourceList ({items} items)",
                upstream["fn"][0],
                upstream["floor"][0],
                "<= 1.0x (goal 0.8x)",
            )
        )

        peer = helm_peer()
        if isinstance(peer, str):
            notes.append(f"Helm row skipped: {peer}")
        else:
            helm, chart = peer
            (work / "render.yaml").write_text(RENDER_CONFIG)
            render = [*function, "render", "--config", str(work / "render.yaml")]
            template = [helm, "template", "x", str(chart), *HELM_SETTINGS]
            versus = alternate({"ours": (render, None, None), "helm": (template, None, None)})
            lines.append(
                row(
                    "`render` of executors only vs `helm template` of the chart (floor: helm)",
                    versus["ours"][0],
                    versus["helm"][0],
                    "<= 0.8x",
                )
            )

        exec_build = [kustomize, "build", "--enable-alpha-plugins", "--enable-exec"]
        builds = alternate(
            {
                "krm": ([*exec_build, str(krm)], None, None),
                "plain": ([kustomize, "build", str(plain)], None, None),
                "identity": ([*exec_build, str(identity)], None, None),
                "legacy": ([kustomize, "build", "--enable-alpha-plugins", str(legacy)], None, None),
            }
        )
        for label, name, floor, target in (
            ("KRM exec overlay vs plain components", "krm", "plain", "report"),
            ("identity `cat` exec overlay vs plain components", "identity", "plain", "kustomize's own exec cost"),
            ("legacy exec plugin overlay vs plain components", "legacy", "plain", "report"),
            ("KRM exec overlay vs identity `cat` overlay (our share)", "krm", "identity", "<= 1.25x (goal 1.15x)"),
        ):
            lines.append(row(f"kustomize build, {label}", builds[name][0], builds[floor][0], target))

        kpt_dirs = {"fn": work / "kpt-fn", "cat": work / "kpt-cat"}
        kptfile = KPTFILE

        def fresh(name: str) -> None:
            shutil.rmtree(kpt_dirs[name], ignore_errors=True)
            shutil.copytree(package, kpt_dirs[name])
            exec_line = "executor-dind\n      configPath: config.yaml" if name == "fn" else "cat"
            (kpt_dirs[name] / "Kptfile").write_text(kptfile.format(exec=exec_line))
            shutil.copy(work / "config.yaml", kpt_dirs[name] / "config.yaml")

        renders = alternate(
            {name: ([kpt, "fn", "render", str(path), "--allow-exec"], None, None) for name, path in kpt_dirs.items()},
            prepare=fresh,
        )
        lines.append(
            row(
                "kpt fn render, upstream base package (identity fn `cat` as floor)",
                renders["fn"][0],
                renders["cat"][0],
                "report",
            )
        )

        scale = {}
        for count in (100, 1000, 10000):
            path = synthetic(work, count)
            runs = RUNS if count < 10000 else max(3, RUNS // 3)
            scale[count] = alternate(
                {"fn": (function, path, None), "floor": ([python, str(FLOOR), str(path)], None, None)}, runs
            )
            fn, floor = scale[count]["fn"], scale[count]["floor"]
            lines.append(row(f"function, {count:,} Deployments: time", fn[0], floor[0], "<= 1.5x"))
            lines.append(row(f"function, {count:,} Deployments: peak RSS", fn[1], floor[1], "<= 1.5x", "MiB"))
        # The audit at cluster scale: it exits 1 (the generated executors are not hardened), which is its verdict.
        audits = {}
        for count in (1000, 5000):
            path = cluster_stream(work, count)
            audits[count] = alternate(
                {
                    "audit": ([*function, "audit", str(path)], None, None, (1,)),
                    "load": ([python, "-c", LOAD, str(path)], None, None),
                },
                max(3, RUNS // 3),
            )
            audit, load = audits[count]["audit"], audits[count]["load"]
            label = f"audit, {count:,} workloads and {count // 10:,} NetworkPolicies in 50 namespaces"
            lines.append(row(f"{label}: time (floor: PyYAML C load)", audit[0], load[0], "<= 1.5x"))
            lines.append(row(f"{label}: peak RSS", audit[1], load[1], "<= 2x", "MiB"))
        audit_exponent = math.log(audits[5000]["audit"][0] / audits[1000]["audit"][0]) / math.log(5)
    exponent = math.log(scale[10000]["fn"][0] / scale[1000]["fn"][0]) / math.log(10)
    floor_exponent = math.log(scale[10000]["floor"][0] / scale[1000]["floor"][0]) / math.log(10)
    print("\n".join(lines))
    print(
        f"\nscaling exponent 1,000 -> 10,000 items (time ~ N^k): "
        f"executor-dind k = {exponent:.2f}, floor k = {floor_exponent:.2f}"
    )
    print(f"audit scaling exponent 1,000 -> 5,000 workloads: k = {audit_exponent:.2f}")
    for note in notes:
        print(note)
    print(
        f"medians of {RUNS} alternating runs ({max(3, RUNS // 3)} at 10,000 items); "
        "floor = PyYAML C load + dump of the same file"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
