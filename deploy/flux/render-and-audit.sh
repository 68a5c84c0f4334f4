#!/bin/sh
# Render an overlay with the executor-dind KRM function and audit it, for Flux: its kustomize-controller runs no
# plugin and no exec function, so CI renders, and Flux applies the committed (or `flux push artifact`-ed) file.
#   deploy/flux/render-and-audit.sh OVERLAY OUTPUT.yaml
# OUTPUT is replaced only by a render whose audit passes and that holds no Secret (OUTPUT is committed: the
# executors' password Secret must exist in the cluster, made there or decrypted by Flux from SOPS); on any
# failure it is left as it was and the script exits non-zero. Needs a standalone kustomize v5 ($KUSTOMIZE,
# default kustomize) and executor-dind on PATH.
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
# What Flux applies is committed: a Secret in it would be the executors' token in plain text in git.
secrets=$(awk '/^---/ { kind = ""; name = "" } /^kind: / { kind = $2 } /^  name: / && !name { name = $2 }
  kind == "Secret" && name { print name; kind = "" }' "$rendered")
if [ -n "$secrets" ]; then
  echo "$0: the render of $overlay holds Secret(s) $(echo $secrets) and would put them in git in plain text:" \
    "remove the overlay's secretGenerator and create the Secret in the cluster (kubectl -n NAMESPACE create secret" \
    "generic executor-secret --from-file=password=FILE), or commit it encrypted (SOPS, which Flux decrypts with" \
    "spec.decryption); $output is left as it was" >&2
  exit 1
fi
executor-dind audit "$rendered"
mv "$rendered" "$output"
trap - EXIT
