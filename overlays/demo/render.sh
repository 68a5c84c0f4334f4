#!/bin/sh
# Render the demo overlay (sample base + executors with a dind sidecar) to stdout, with the best tool found:
#   1. standalone kustomize v5: the KRM exec function   (kustomize build --enable-alpha-plugins --enable-exec)
#   2. kubectl: the legacy exec plugin in a temp plugin home   (kubectl kustomize --enable-alpha-plugins)
#   3. neither: executor-dind render on the sample base's manifests
# One line on stderr sums it up: the objects executor-dind added, the profile, the audit's verdict and which tool
# rendered it. Needs executor-dind on PATH (`make demo` sets that up); works offline: nothing is downloaded.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

# The summary of $out, rendered by $1: objects labelled part-of executor-dind (in their metadata.labels, not a
# selector's or a pod template's), the config's profile, and `executor-dind audit` over the stream. Shell
# builtins only: the last way needs nothing but sh and executor-dind.
summary() {
    added=0 top="" labels=0
    while IFS= read -r line; do
        case $line in
            ---*) top="" labels=0 ;;
            [!\ \#-]*) top=${line%%:*} labels=0 ;;
            "  labels:") [ "$top" = metadata ] && labels=1 ;;
            "  "[!\ ]*) labels=0 ;;
            "    app.kubernetes.io/part-of: executor-dind") [ "$labels" = 1 ] && added=$((added + 1)) ;;
        esac
    done <<EOF
$out
EOF
    profile=recommended
    while IFS= read -r line; do
        case $line in "    profile: "*) profile=${line#    profile: } profile=${profile%% *} ;; esac
    done <"$here/executor-dind.yaml"
    if findings=$(printf '%s\n' "$out" | executor-dind audit); then verdict=passed; else verdict=FAILED; fi
    errors=0 warnings=0
    while IFS= read -r line; do
        case $line in "error "*) errors=$((errors + 1)) ;; "warning "*) warnings=$((warnings + 1)) ;; esac
    done <<EOF
$findings
EOF
    echo "demo: executor-dind added $added objects, hardening profile $profile; audit $verdict" \
        "($errors errors, $warnings warnings: sh overlays/demo/render.sh | executor-dind audit); rendered by $1" >&2
    [ "$verdict" = passed ]
}

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
        summary "standalone kustomize $kustomize_version (KRM exec function)"
        exit
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
    summary "kubectl kustomize ${version:-(embedded)} (legacy exec plugin)"
    exit
fi

# The base's manifests, not its kustomization (render refuses a kustomization directory: it would skip its
# generators and transformers).
set --
for manifest in "$here"/base/*.yaml; do
    [ "${manifest##*/}" = kustomization.yaml ] || set -- "$@" "$manifest"
done
out=$(executor-dind render --config "$here/executor-dind.yaml" "$@")
printf '%s\n' "$out"
summary "executor-dind render (no kustomize v5 or kubectl on PATH; the base's secretGenerator is not run)"
