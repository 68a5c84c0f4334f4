#!/bin/sh
# Render the demo overlay (sample base + executors with a dind sidecar) to stdout, with the best tool found:
#   1. standalone kustomize v5: the KRM exec function   (kustomize build --enable-alpha-plugins --enable-exec)
#   2. kubectl: the legacy exec plugin in a temp plugin home   (kubectl kustomize --enable-alpha-plugins)
#   3. neither: executor-dind render on the sample base's manifests
# One line on stderr says which one rendered it. Needs executor-dind on PATH (`make demo` sets that up);
# works offline: nothing is downloaded.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v executor-dind >/dev/null 2>&1; then
    echo "render.sh: executor-dind is not on PATH (run \`make demo\`, or put .venv/bin on PATH)" >&2
    exit 1
fi

kustomize_version=""
if command -v kustomize >/dev/null 2>&1; then
    kustomize_version=$(kustomize version 2>/dev/null || true)
fi
case "$kustomize_version" in
    *v5.*)
        out=$(kustomize build --enable-alpha-plugins --enable-exec "$here")
        printf '%s\n' "$out"
        echo "demo rendered by standalone kustomize $kustomize_version (KRM exec function executor-dind)" >&2
        exit 0
        ;;
esac

if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/executor-dind-demo.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
    executor-dind install-plugin --plugin-home "$work/plugins" >/dev/null
    # The same overlay, its config without the KRM function annotation: kubectl has no --enable-exec and would
    # skip the function silently, so it runs as the legacy exec plugin found by its apiVersion and kind.
    mkdir "$work/demo"
    cp -R "$here/base" "$here/kustomization.yaml" "$work/demo/"
    awk '/^  annotations:/ { skip = 1; next } skip && /^ ? ?[^ ]/ { skip = 0 } !skip' \
        "$here/executor-dind.yaml" >"$work/demo/executor-dind.yaml"
    out=$(KUSTOMIZE_PLUGIN_HOME="$work/plugins" kubectl kustomize --enable-alpha-plugins "$work/demo")
    printf '%s\n' "$out"
    version=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p')
    echo "demo rendered by kubectl kustomize ${version:-(embedded)} (legacy exec plugin executor-dind)" >&2
    exit 0
fi

# The base's manifests, not its kustomization (render refuses a kustomization directory: it would skip its
# generators and transformers).
set --
for manifest in "$here"/base/*.yaml; do
    [ "${manifest##*/}" = kustomization.yaml ] || set -- "$@" "$manifest"
done
out=$(executor-dind render --config "$here/executor-dind.yaml" "$@")
printf '%s\n' "$out"
echo "demo rendered by executor-dind render (no kustomize v5 or kubectl on PATH; the base's secretGenerator is not run)" >&2
