#!/bin/sh
# Builds netpol-oracle into $1: the module graph pinned here (go.mod, go.sum) vendored into a scratch copy, with
# knp/verdict.go added to the vendored kube-network-policies package (v0.8.0 keeps evaluatePacket unexported and
# the go command refuses overlays of the module cache). Nothing fetched is kept in the repository.
set -eu
out=$1
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$here/go.mod" "$here/go.sum" "$here/main.go" "$scratch/"
cd "$scratch"
GOSUMDB=off GOFLAGS=-mod=mod go mod vendor
cp "$here/knp/verdict.go" vendor/sigs.k8s.io/kube-network-policies/pkg/networkpolicy/zz_netpol_oracle_verdict.go
go build -mod=vendor -tags netpol_oracle -trimpath -o "$out" .
