"""The ScaledObject's and the ScaledJob's query, evaluated by a real Prometheus (Debian's `prometheus` package)
scraping a small test exporter on 127.0.0.1 that serves the worker's and the executors' metrics for given queue
states.

The replica count is what KEDA would make of the query's value: 0 jobs (not active, activationThreshold 0) is
minReplicas; otherwise ceil(value / threshold) within max(minReplicas, 1)..maxReplicas (the HPA's
AverageValue target). For a ScaledJob, the Jobs KEDA creates at a poll with its `default` scaling strategy
(pkg/scaling/executor/scale_jobs.go of the pinned KEDA): min(ceil(value / threshold), maxReplicaCount) minus the
unfinished Jobs, nothing when not active. The query and the thresholds are taken from the rendered objects, not
rewritten.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import missing

# Queue states: (worker gauge per queue, handlers per executor as (queue label, executor, running jobs)).
# `src_executor_total` absent when the worker has not reported it yet.
STATES: dict[str, tuple[dict[str, int] | None, list[tuple[str, str, int]]]] = {
    "nothing reported yet": (None, []),
    "empty queues, no executor": ({"batches": 0, "codeintel": 0}, []),
    "1 batches job queued": ({"batches": 1, "codeintel": 0}, []),
    "9 batches jobs queued": ({"batches": 9, "codeintel": 0}, []),
    "queue empty, 5 running on 2 executors": (
        {"batches": 0, "codeintel": 0},
        [("batches", "executor-batches-a", 3), ("batches", "executor-batches-b", 2)],
    ),
    "4 queued, 4 running": ({"batches": 4, "codeintel": 0}, [("batches", "executor-batches-a", 4)]),
    "500 queued": ({"batches": 500, "codeintel": 0}, []),
    "multi-queue: 3 batches + 2 codeintel queued, 1 running": (
        {"batches": 3, "codeintel": 2},
        [("batches_codeintel", "executor-all-a", 1)],
    ),
    "multi-queue: empty queues, 2 running": (
        {"batches": 0, "codeintel": 0},
        [("batches_codeintel", "executor-all-a", 2)],
    ),
}
# Deployment -> replicas KEDA would run, per state (batches: 0..10 x 4 jobs; all: 0..3 x 2 jobs).
EXPECTED = {
    "nothing reported yet": {"executor-batches": 0, "executor-all": 0},
    "empty queues, no executor": {"executor-batches": 0, "executor-all": 0},
    "1 batches job queued": {"executor-batches": 1, "executor-all": 1},
    "9 batches jobs queued": {"executor-batches": 3, "executor-all": 3},
    "queue empty, 5 running on 2 executors": {"executor-batches": 2, "executor-all": 0},
    "4 queued, 4 running": {"executor-batches": 2, "executor-all": 2},
    "500 queued": {"executor-batches": 10, "executor-all": 3},
    "multi-queue: 3 batches + 2 codeintel queued, 1 running": {"executor-batches": 1, "executor-all": 3},
    "multi-queue: empty queues, 2 running": {"executor-batches": 0, "executor-all": 1},
}
SPEC = {
    "queues": [
        {"name": "batches", "autoscaling": {"maxReplicas": 10}},
        {"name": "all", "queueNames": ["batches", "codeintel"], "autoscaling": {"maxReplicas": 3, "jobsPerReplica": 2}},
    ]
}


class Exporter:
    """Two worker replicas (each reports the same queue gauge) and the executors' handlers behind one of them."""

    def __init__(self) -> None:
        self.state = 0
        self.queued: dict[str, int] | None = None
        self.handlers: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def page(self, replica: int) -> str:
        with self.lock:
            lines = ["# TYPE test_state gauge", f"test_state {self.state}"]
            if self.queued is not None:
                lines.append("# TYPE src_executor_total gauge")
                lines += [f'src_executor_total{{queue="{queue}"}} {count}' for queue, count in self.queued.items()]
            if replica == 0 and self.handlers:
                lines.append("# TYPE src_executor_processor_handlers gauge")
                lines += [
                    f'src_executor_processor_handlers{{queue="{queue}",sg_instance="{executor}"}} {running}'
                    for queue, executor, running in self.handlers
                ]
            return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(exporter: Exporter, replica: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exporter.page(replica).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict]:
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(address, timeout=10) as response:
            answer = json.load(response)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    binary = shutil.which("prometheus")
    if binary is None:
        missing("prometheus not found (apt-get install prometheus)")
    exporter = Exporter()
    servers = [serve(exporter, replica) for replica in (0, 1)]
    where = tmp_path_factory.mktemp("prometheus")
    targets = ", ".join(f'"127.0.0.1:{server.server_address[1]}"' for server in servers)
    (where / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: worker-executors\n    static_configs: [{{targets: [{targets}]}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={where / 'prometheus.yml'}",
            f"--storage.tsdb.path={where / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(where / "prometheus.log").open("w"),
    )
    client = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if len(client.query("test_state")) == 2:
                    break
            except OSError:
                pass
            assert process.poll() is None, (where / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus did not scrape both targets within 120 s"
            time.sleep(0.5)
        yield exporter, client
    finally:
        process.terminate()
        process.wait(timeout=30)
        for server in servers:
            server.shutdown()


@pytest.fixture(scope="module")
def scaled_objects() -> dict[str, dict]:
    return rendered_specs(SPEC, "ScaledObject")


def rendered_specs(spec: dict, kind: str) -> dict[str, dict]:
    """name -> spec of the objects of this kind the function renders for this ExecutorDind spec."""
    from executor_dind import function
    from executor_dind.krm.item import Item

    frontend = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sourcegraph-frontend", "namespace": "sourcegraph"},
        "spec": {"ports": [{"name": "http", "port": 30080}]},
    }
    config = {"apiVersion": "executor-dind.dev/v1alpha1", "kind": "ExecutorDind", "spec": spec}
    outcome = function.run([Item.new(frontend)], config, file_paths=True)
    assert not outcome.failed, [r.message for r in outcome.results]
    return {item.name: item.obj["spec"] for item in outcome.items if item.kind == kind}


def keda_replicas(value: float, scaled: dict) -> int:
    """What KEDA makes of the query's value: below activation minReplicas, else the HPA's AverageValue count."""
    metadata = scaled["triggers"][0]["metadata"]
    low, high = scaled["minReplicaCount"], scaled["maxReplicaCount"]
    if value <= float(metadata["activationThreshold"]):
        return low
    return min(high, max(low, 1, math.ceil(value / float(metadata["threshold"]))))


def settle(exporter: Exporter, client: Prometheus, state: int) -> None:
    """Wait until both targets were scraped in this state (and series of the last one went stale)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        values = [float(sample["value"][1]) for sample in client.query("test_state")]
        if values == [state, state]:
            time.sleep(1.5)  # one more scrape each: every series of this state is in
            return
        time.sleep(0.3)
    pytest.fail(f"Prometheus did not reach state {state} within 60 s")


def query_values(prometheus, scalers: dict[str, dict], states: dict[str, tuple], first: int) -> dict:
    """state name -> scaler name -> the value of its trigger's query once Prometheus scraped that state (the
    states numbered from `first`, each a (queued, handlers, ...) row)."""
    exporter, client = prometheus
    values = {}
    for number, (name, (queued, handlers, *_)) in enumerate(states.items(), start=first):
        with exporter.lock:
            exporter.state, exporter.queued, exporter.handlers = number, queued, handlers
        settle(exporter, client, number)
        values[name] = {}
        for scaler, scaled in scalers.items():
            result = client.query(scaled["triggers"][0]["metadata"]["query"])
            # one series, whatever the number of worker replicas and executors: KEDA refuses several
            assert len(result) == 1, (name, scaler, result)
            values[name][scaler] = float(result[0]["value"][1])
    return values


def test_the_query_gives_the_replicas_keda_should_run(prometheus, scaled_objects):
    assert set(scaled_objects) == {"executor-batches", "executor-all"}
    table = {
        name: {
            deployment: (value, keda_replicas(value, scaled_objects[deployment])) for deployment, value in row.items()
        }
        for name, row in query_values(prometheus, scaled_objects, STATES, 1).items()
    }
    report = "\n".join(
        f"{name:55} " + "  ".join(f"{d}: {v:g} jobs -> {r}" for d, (v, r) in row.items()) for name, row in table.items()
    )
    print("\n" + report)
    assert {name: {d: r for d, (_, r) in row.items()} for name, row in table.items()} == EXPECTED, report


def test_without_or_vector_0_a_queue_at_zero_would_never_wake(prometheus):
    """The reason for `or vector(0)`: with no executor running, the handlers term has no series, and a plain
    sum of the two terms is empty, which KEDA reads as nothing to do (or, ignoreNullValues false, an error)."""
    exporter, client = prometheus
    with exporter.lock:
        exporter.state, exporter.queued, exporter.handlers = 100, {"batches": 9, "codeintel": 0}, []
    settle(exporter, client, 100)
    naive = 'sum(src_executor_total{queue="batches"}) + sum(src_executor_processor_handlers{queue="batches"})'
    assert client.query(naive) == []
    # and a sum over the worker replicas counts each queued job twice
    assert float(client.query('sum(src_executor_total{queue="batches"})')[0]["value"][1]) == 18


# isolation: job. Queue states as above, each pod running at most one job, and per ScaledJob (batches: at most 8
# Jobs; all: at most 3) its unfinished Jobs (pods running a job, plus pods started that hold none yet), which KEDA
# counts itself, -> the new Jobs KEDA creates at the next poll, reasoned from its formula: 3 queued, no pod: 3 and
# 3; their 3 pods starting: 3 - 3 = 0 for batches; 2 queued + 2 running, 4 Jobs: 4 - 4 = 0; 5 + 2 running, 2 Jobs:
# 7 - 2 = 5; 20 + 2: min(22, 8) - 2 = 6, never more than 8 Jobs; 0 + 1 running, 1 Job: 1 - 1 = 0; multi-queue:
# all: min(2 + 2 + 1, 3) - 1 = 2, batches sees its 2 queued jobs: 2. executor-all, with no Job of its own in the
# single-queue states, wants min(queued batches, 3): the two ScaledJobs share batches, which the function warns
# about, as it does for ScaledObjects.
TWO_RUNNING = [("batches", "executor-batches-a", 1), ("batches", "executor-batches-b", 1)]
MULTI_QUEUE = ({"batches": 2, "codeintel": 2}, [("batches_codeintel", "executor-all-a", 1)])
JobRow = tuple[dict[str, int] | None, list[tuple[str, str, int]], int, int, int, int]
# name -> (queued, handlers, executor-batches's unfinished Jobs, its new Jobs, executor-all's, its new Jobs)
JOB_STATES: dict[str, JobRow] = {
    "nothing reported yet": (None, [], 0, 0, 0, 0),
    "empty queues, no pod": ({"batches": 0, "codeintel": 0}, [], 0, 0, 0, 0),
    "3 batches queued, no pod": ({"batches": 3, "codeintel": 0}, [], 0, 3, 0, 3),
    "3 batches queued, their 3 pods starting": ({"batches": 3, "codeintel": 0}, [], 3, 0, 0, 3),
    "2 queued, 2 running, 2 pods starting": ({"batches": 2, "codeintel": 0}, TWO_RUNNING, 4, 0, 0, 2),
    "5 queued, 2 running": ({"batches": 5, "codeintel": 0}, TWO_RUNNING, 2, 5, 0, 3),
    "20 queued, 2 running": ({"batches": 20, "codeintel": 0}, TWO_RUNNING, 2, 6, 0, 3),
    "queue empty, 1 running": ({"batches": 0, "codeintel": 0}, TWO_RUNNING[:1], 1, 0, 0, 0),
    "multi-queue: 2 batches + 2 codeintel queued, 1 running": (*MULTI_QUEUE, 0, 2, 1, 2),
}
JOB_SPEC = {
    "queues": [
        {"name": "batches", "isolation": "job", "autoscaling": {"maxReplicas": 8}},
        {"name": "all", "queueNames": ["batches", "codeintel"], "isolation": "job", "autoscaling": {"maxReplicas": 3}},
    ]
}


@pytest.fixture(scope="module")
def scaled_jobs() -> dict[str, dict]:
    return rendered_specs(JOB_SPEC, "ScaledJob")


def keda_new_jobs(value: float, unfinished: int, scaled: dict) -> int:
    """The Jobs KEDA's default strategy creates: min(ceil(value / threshold), max) - unfinished, when active."""
    metadata = scaled["triggers"][0]["metadata"]
    assert scaled["scalingStrategy"] == {"strategy": "default"} and "minReplicaCount" not in scaled
    if value <= float(metadata["activationThreshold"]):
        return 0
    most = min(math.ceil(value / float(metadata["threshold"])), scaled["maxReplicaCount"])
    return max(0, most - unfinished)


def test_the_query_gives_the_jobs_keda_should_create(prometheus, scaled_jobs):
    assert set(scaled_jobs) == {"executor-batches", "executor-all"}
    unfinished = {name: {"executor-batches": row[2], "executor-all": row[4]} for name, row in JOB_STATES.items()}
    expected = {name: {"executor-batches": row[3], "executor-all": row[5]} for name, row in JOB_STATES.items()}
    table = {
        name: {
            job: (value, unfinished[name][job], keda_new_jobs(value, unfinished[name][job], scaled_jobs[job]))
            for job, value in row.items()
        }
        for name, row in query_values(prometheus, scaled_jobs, JOB_STATES, 200).items()
    }
    report = "\n".join(
        f"{name:55} " + "  ".join(f"{d}: {v:g} jobs, {u} Jobs -> {n} new" for d, (v, u, n) in row.items())
        for name, row in table.items()
    )
    print("\n" + report)
    assert {name: {d: n for d, (_, _, n) in row.items()} for name, row in table.items()} == expected, report
