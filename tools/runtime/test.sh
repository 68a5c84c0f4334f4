#!/usr/bin/env bash
# `make test-runtime`: the apt packages first, then the Go builds in the background (nice 10) while the tests run.
#
#   tools/runtime/test.sh PYTEST [ARGS...]
#
# Most of the tier's tests need no Go-built binary (Debian's dockerd, the image, the renders), and they spend
# their time waiting on daemons: run beside the builds they use the idle CPU, and on 2 cores a cold run takes
# about the builds' time instead of builds plus tests. install.sh builds kube and kwok first;
# tests/runtime/conftest.py runs the tests that need no build first, then the control plane's, then the other
# modules' in the order their builds finish; harness.built() waits for the module's .tools/status file. The builds run in a session of their own, killed on any exit of this script.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 PYTEST [ARGS...]" >&2; exit 2; }
bash tools/runtime/install.sh packages || exit 1
mkdir -p .tools/logs
started=$SECONDS
setsid nice -n 10 bash tools/runtime/install.sh builds >.tools/logs/builds.log 2>&1 &
builder=$!
trap 'kill -TERM -- "-$builder" 2>/dev/null; wait "$builder" 2>/dev/null' EXIT
trap 'exit 130' INT TERM

EXECUTOR_DIND_RUNTIME=1 EXECUTOR_DIND_BUILDER_PID=$builder "$@"
tests=$?
[ "$tests" = 0 ] || exit "$tests"  # the trap stops the builds still running
# The tests waited for every build they needed; one that nothing waited for (a test deselected) finishes here.
wait "$builder"
builds=$?
trap - EXIT
cat .tools/logs/builds.log
echo "test-runtime: $((SECONDS - started)) s of builds and tests"
exit "$builds"
