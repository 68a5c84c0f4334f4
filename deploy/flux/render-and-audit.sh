#!/bin/sh
# Render an overlay with the executor-dind KRM function and audit it, for Flux: its kustomize-controller runs no
# plugin and no exec function, so CI renders, and Flux applies the committed (or `flux push artifact`-ed) file.
#   deploy/flux/render-and-audit.sh OVERLAY OUTPUT.yaml
# OUTPUT is replaced only by a render whose audit passes; on any failure it is left as it was and the script
# exits non-zero. Needs a standalone kustomize v5 ($KUSTOMIZE, default kustomize) and executor-dind on PATH.
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: $0 OVERLAY OUTPUT.yaml" >&2
  exit 2
fi
overlay=$1
output=$2
kustomize=${KUSTOMIZE:-kustomize}
case "$("$kustomize" version 2>/dev/null || true)" in
  v5.*) ;;
  *) echo "$0: $kustomize is not a standalone kustomize v5 (kubectl's has no --enable-exec)" >&2; exit 2 ;;
esac
rendered=$(mktemp "$output.XXXXXX")
trap 'rm -f "$rendered"' EXIT
"$kustomize" build --enable-alpha-plugins --enable-exec "$overlay" > "$rendered"
executor-dind audit "$rendered"
mv "$rendered" "$output"
trap - EXIT
