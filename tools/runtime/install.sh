#!/usr/bin/env bash
# Installs what `make test-runtime` needs: Debian packages with apt (root only), then the Go-built binaries
# pinned in tools/runtime/*/go.mod and go.sum, into .tools/bin. Without root or apt it says so and stops;
# the tests then skip with that reason (or fail with CI=true).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"
PACKAGES="docker.io busybox-static docker-registry etcd-server iproute2 iptables util-linux openssl"

if [ "$(id -u)" != 0 ]; then echo "test-runtime: not root: nothing installed (the runtime tests skip)"; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then echo "test-runtime: no apt-get: nothing installed"; exit 0; fi
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "test-runtime: apt-get install$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
if ! command -v go >/dev/null 2>&1; then echo "test-runtime: go not found: Go-built binaries not installed"; exit 0; fi

# build DIR OUTPUT PACKAGE [go build flags...]: only when the binary is older than the module's pins.
build() {
  local dir="tools/runtime/$1" out="$BIN/$2" pkg="$3"; shift 3
  if [ -x "$out" ] && [ "$out" -nt "$dir/go.sum" ] && [ "$out" -nt "$dir/go.mod" ]; then return; fi
  echo "test-runtime: building $(basename "$out") from $dir"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath "$@" -o "$out" "$pkg")
}
KV=k8s.io/component-base/version
KLDFLAGS="-s -w -X $KV.gitVersion=v1.37.2 -X $KV.gitMajor=1 -X $KV.gitMinor=37 -X $KV.gitTreeState=clean"
for cmd in kube-apiserver kube-scheduler kube-controller-manager; do
  build kube "$cmd" "k8s.io/kubernetes/cmd/$cmd" -ldflags "$KLDFLAGS"
done
build kwok kwok sigs.k8s.io/kwok/cmd/kwok -ldflags "-s -w"
build registry registry github.com/distribution/distribution/v3/cmd/registry -ldflags "-s -w"
build moby dockerd-moby github.com/moby/moby/v2/cmd/dockerd -tags exclude_graphdriver_btrfs -ldflags "-s -w"
build moby daemonkeys ./daemonkeys

# kwok's stages (fast node start, lease heartbeat, pods Ready at once) from the pinned module.
stages="$(cd tools/runtime/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  echo '---'; cat "$stages/$f"
done > "$PWD/.tools/kwok-stages.yaml"
