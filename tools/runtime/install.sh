#!/usr/bin/env bash
# Installs what `make test-runtime` needs: Debian packages with apt (root only), then the Go-built binaries
# pinned in tools/runtime/*/go.mod and go.sum, into .tools/bin. Without root or apt it says so and stops;
# the tests then skip with that reason (or fail with CI=true).
#
#   install.sh [packages|builds]   both (default), only the apt packages, or only the Go builds
#
# Cost: the Go builds are most of a cold run. Each module is built in one `go build` (its binaries share the
# compile of their common packages and link side by side), the six modules build at the same time (downloads
# and single-threaded links fill the other core; the control plane's at a higher priority), with -trimpath, no DWARF (-gcflags=all=-dwarf=false: 13%
# less compile CPU here; -ldflags -s -w would drop it at link anyway). The Go caches live under .tools/go, so
# `make clean` (or a fresh clone) measures a truly cold run; a module whose go.mod, go.sum and build command are
# unchanged since its last build (.tools/stamps) is not built again. Each module's outcome goes to
# .tools/status/NAME ("ok", or why not) as soon as it is known: tools/runtime/test.sh runs the builds in the
# background and the tests that need a binary wait for that file (tests/runtime/harness.py, built()).
set -euo pipefail
cd "$(dirname "$0")/../.."
TOOLS="$PWD/.tools"
BIN="$TOOLS/bin"
STATUS="$TOOLS/status"
MODULES="kube moby kwok registry runsc kube-router kube-network-policies"
mode="${1:-all}"
mkdir -p "$BIN" "$TOOLS/stamps" "$TOOLS/logs" "$STATUS"
PACKAGES="docker.io busybox-static docker-registry etcd-server iproute2 iptables ipset nftables patch util-linux openssl"

# not_built REASON: every module's status says why nothing was built.
not_built() {
  echo "test-runtime: $1"
  if [ "$mode" != packages ]; then for m in $MODULES; do echo "$1" >"$STATUS/$m"; done; fi
  exit 0
}

if [ "$mode" != packages ]; then rm -f "$STATUS"/*; fi
if [ "$(id -u)" != 0 ]; then not_built "not root: nothing installed (the runtime tests skip)"; fi
if ! command -v apt-get >/dev/null 2>&1; then not_built "no apt-get: nothing installed"; fi
if [ "$mode" != builds ]; then
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "test-runtime: apt-get install$missing"
  apt-get update -q >/dev/null
  # Debian's policy-rc.d keeps the packaged daemons (docker, etcd) from starting: the tests start their own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
fi
[ "$mode" != packages ] || exit 0
if ! command -v go >/dev/null 2>&1; then not_built "go not found: Go-built binaries not installed"; fi

export GOCACHE="$TOOLS/go/cache" GOMODCACHE="$TOOLS/go/mod" GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
BUILD_FLAGS="-trimpath -gcflags=all=-dwarf=false"

# build NAME OUTPUTS NICENESS -- go build arguments...: in tools/runtime/NAME, into a staging directory, then
# moved into .tools/bin as OUTPUTS ("built:installed" pairs), at NICENESS more than this script's. Skipped when
# the stamp matches and every output exists. A failure is written to the module's status; success is for the
# caller to write (after any step of its own).
build() {
  local name="$1" outputs="$2" niceness="$3"; shift 4
  local dir="tools/runtime/$name" stage="$TOOLS/stage/$name" stamp
  stamp="$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1) $(go version) $BUILD_FLAGS $*"
  local fresh=1 pair
  for pair in $outputs; do [ -x "$BIN/${pair#*:}" ] || fresh=0; done
  if [ "$fresh" = 1 ] && [ "$(cat "$TOOLS/stamps/$name" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  rm -rf "$stage" && mkdir -p "$stage"
  local started=$SECONDS
  # shellcheck disable=SC2086
  if ! (cd "$dir" && nice -n "$niceness" go build $BUILD_FLAGS -o "$stage/" "$@") >"$TOOLS/logs/$name.log" 2>&1; then
    echo "test-runtime: building $name failed:"; tail -30 "$TOOLS/logs/$name.log"
    echo "building tools/runtime/$name failed: $(tail -1 "$TOOLS/logs/$name.log")" >"$STATUS/$name"
    return 1
  fi
  for pair in $outputs; do mv -f "$stage/${pair%%:*}" "$BIN/${pair#*:}"; done
  echo "$stamp" >"$TOOLS/stamps/$name"
  echo "test-runtime: built $outputs from $dir in $((SECONDS - started)) s"
}

KV=k8s.io/component-base/version
KLDFLAGS="-s -w -X $KV.gitVersion=v1.37.2 -X $KV.gitMajor=1 -X $KV.gitMinor=37 -X $KV.gitTreeState=clean"

# kwok's stages (fast node start, lease heartbeat, pods Ready at once) from the pinned module.
kwok_stages() {
  local stages
  stages="$(cd tools/runtime/kwok && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo '---'; cat "$stages/$f"
  done >"$TOOLS/kwok-stages.yaml"
}

done_ok() { echo ok >"$STATUS/$1"; }

# The reference engine, kube-network-policies (pinned in tools/runtime/kube-network-policies): its command is a
# main package, so it is built from a staged copy of the module's source with the patches beside go.mod applied
# (kernel compatibility, a --kubeconfig flag). The AdminNetworkPolicy CRDs of the network-policy-api version it
# requires go to .tools/anp-crds.yaml. Skipped like build() when nothing changed.
build_patched_knp() {
  local name=kube-network-policies dir=tools/runtime/kube-network-policies
  local stage stamp src api started=$SECONDS
  stamp="$(cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.patch | sha256sum | cut -d' ' -f1) $(go version) $BUILD_FLAGS"
  stamp="$stamp crds=experimental"  # the channel with `networks` peers (standard v0.1.6 lacks them)
  if [ -x "$BIN/$name" ] && [ -s "$TOOLS/anp-crds.yaml" ] && [ "$(cat "$TOOLS/stamps/$name" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  # A scratch copy of its own (not .tools/stage, which the end of every install.sh run removes).
  stage="$(mktemp -d)/$name"
  if ! {
    (cd "$dir" && go mod download sigs.k8s.io/kube-network-policies) &&  # go list -m names no Dir before it is
    src="$(cd "$dir" && go list -m -f '{{.Dir}}' sigs.k8s.io/kube-network-policies)" &&  # in the module cache
      [ -n "$src" ] &&
      cp -r "$src" "$stage" && chmod -R u+w "$stage" &&
      cat "$dir"/*.patch | patch -s -d "$stage" -p1 &&
      (cd "$stage" && nice -n 9 go build $BUILD_FLAGS -ldflags "-s -w" -o "$stage/$name" ./cmd) &&
      api="$(cd "$stage" && go list -m -f '{{.Dir}}' sigs.k8s.io/network-policy-api)" &&
      for crd in adminnetworkpolicies baselineadminnetworkpolicies; do
        echo '---'; cat "$api/config/crd/experimental/policy.networking.k8s.io_$crd.yaml"
      done >"$TOOLS/anp-crds.yaml"
  } >"$TOOLS/logs/$name.log" 2>&1; then
    echo "test-runtime: building $name failed:"; tail -30 "$TOOLS/logs/$name.log"
    echo "building $dir failed: $(tail -1 "$TOOLS/logs/$name.log")" >"$STATUS/$name"
    rm -rf "$(dirname "$stage")"
    return 1
  fi
  mv -f "$stage/$name" "$BIN/$name"
  rm -rf "$(dirname "$stage")"
  echo "$stamp" >"$TOOLS/stamps/$name"
  echo "test-runtime: built $name from $dir (patched) in $((SECONDS - started)) s"
}

# The control plane first: its tests are the longest (~6 min) and need kube and kwok, so those two build ahead
# of the others (which take what CPU is left, niceness +9) and the control plane's tests run while they finish.
pids=()
(build kube "kube-apiserver:kube-apiserver kube-scheduler:kube-scheduler kube-controller-manager:kube-controller-manager" \
  0 -- -ldflags "$KLDFLAGS" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager && done_ok kube) &
pids+=($!)
(build kwok "kwok:kwok" 0 -- -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok && kwok_stages && done_ok kwok) &
pids+=($!)
# dockerd-moby, not dockerd: .tools/bin comes first on PATH and the rendered `dockerd` is Debian's.
(build moby "dockerd:dockerd-moby daemonkeys:daemonkeys" 9 \
  -- -tags exclude_graphdriver_btrfs -ldflags "-s -w" github.com/moby/moby/v2/cmd/dockerd ./daemonkeys && done_ok moby) &
pids+=($!)
(build registry "registry:registry" 9 -- -ldflags "-s -w" github.com/distribution/distribution/v3/cmd/registry \
  && done_ok registry) &
pids+=($!)
(build runsc "runsc:runsc" 9 -- -ldflags "-s -w" gvisor.dev/gvisor/runsc && done_ok runsc) &
pids+=($!)
# The NetworkPolicy engine (its netpol controller only; iptables-nft and ipset from Debian).
(build kube-router "kube-router:kube-router" 9 -- \
  -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v2.1.0" \
  github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
  && done_ok kube-router) &
pids+=($!)
(build_patched_knp && done_ok kube-network-policies) &
pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
rm -rf "$TOOLS/stage"
for m in $MODULES; do [ -s "$STATUS/$m" ] || echo "tools/runtime/$m: not built (see .tools/logs/$m.log)" >"$STATUS/$m"; done
[ "$failed" = 0 ] || exit 1
