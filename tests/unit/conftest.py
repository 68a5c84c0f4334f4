"""Fixtures for the unit tests: the upstream components/executors/dind objects, built for real or hand-written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

# A small hand-written equivalent of deploy-sourcegraph-k8s components/executors/dind and its
# private-docker-registry sub-component (kubectl kustomize output, trimmed), for when the real base is absent.
HAND_WRITTEN_UPSTREAM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  labels: {app: executor, deploy: sourcegraph}
  name: docker-config
  namespace: sourcegraph
---
apiVersion: v1
kind: ConfigMap
metadata:
  labels: {app: executor, deploy: sourcegraph}
  name: executor-config
  namespace: sourcegraph
data:
  DOCKER_HOST: tcp://localhost:2375
  EXECUTOR_FRONTEND_URL: http://sourcegraph-frontend
---
apiVersion: v1
kind: Service
metadata:
  labels: {app: executor, deploy: sourcegraph}
  name: executor
  namespace: sourcegraph
spec:
  ports:
  - {name: debug, port: 6060, targetPort: debug}
  selector: {app: executor}
---
apiVersion: v1
kind: Service
metadata:
  name: private-docker-registry
  namespace: sourcegraph
spec:
  ports:
  - {name: registry, port: 5000, targetPort: 5000}
  selector: {app: private-docker-registry}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: private-docker-registry
  namespace: sourcegraph
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels: {deploy: sourcegraph}
  name: executor
  namespace: sourcegraph
spec:
  selector: {matchLabels: {app: executor}}
  template:
    metadata: {labels: {app: executor}}
    spec:
      containers:
      - name: executor
        image: index.docker.io/sourcegraph/executor:6.2.1106
        env:
        - name: EXECUTOR_FRONTEND_PASSWORD
          valueFrom: {secretKeyRef: {key: password, name: executor-secret}}
        envFrom:
        - configMapRef: {name: executor-config}
      - name: dind
        image: index.docker.io/sourcegraph/dind:6.2.1106
        command: [dockerd, --tls=false, --mtu=1200, --host=tcp://0.0.0.0:2375]
        ports:
        - {containerPort: 2375, protocol: TCP}
        securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: private-docker-registry
  namespace: sourcegraph
spec:
  selector: {matchLabels: {app: private-docker-registry}}
  template:
    metadata: {labels: {app: private-docker-registry}}
    spec:
      containers:
      - {name: private-docker-registry, image: index.docker.io/registry:2}
"""

UPSTREAM_NAMES = [
    ("ConfigMap", "docker-config"),
    ("ConfigMap", "executor-config"),
    ("Service", "executor"),
    ("Service", "private-docker-registry"),
    ("PersistentVolumeClaim", "private-docker-registry"),
    ("Deployment", "executor"),
    ("Deployment", "private-docker-registry"),
]


def build_upstream(kubectl: str, upstream: Path, work: Path, namespace: str = "sourcegraph") -> str:
    """kubectl kustomize over the real upstream component (and its registry), into `namespace` if given."""
    work.mkdir(parents=True, exist_ok=True)
    component = upstream / "components" / "executors" / "dind"
    relative = os.path.relpath(component, work)
    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    if namespace:
        lines.append(f"namespace: {namespace}")
    lines += ["components:", f"- {relative}", f"- {relative}/private-docker-registry"]
    (work / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    built = subprocess.run([kubectl, "kustomize", str(work)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return built.stdout


@pytest.fixture(params=["hand-written", "kubectl-kustomize"])
def upstream_component(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The upstream executor objects in namespace sourcegraph, as one YAML stream."""
    if request.param == "hand-written":
        return HAND_WRITTEN_UPSTREAM
    return build_upstream(request.getfixturevalue("kubectl"), request.getfixturevalue("upstream"), tmp_path / "k")
