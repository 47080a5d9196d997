#!/usr/bin/env bash
# test.sh: the project's test command. Runs scripts/setup.sh (no demo),
# go vet and the whole test suite; extra arguments go to `go test`:
#
#   sudo ./scripts/test.sh               # everything
#   sudo ./scripts/test.sh -short        # without the heavy end-to-end tests
#   sudo ./scripts/test.sh -run Restore  # a subset
#
# Privileged tests (root, ptrace, setting PIDs) and tests of optional kernel
# features skip themselves when those are missing. With CRLAZY_REQUIRE_PRIV=1
# in the environment (as .ci/run sets it) they fail instead of skipping, so
# that a run that could not test them cannot pass.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
if ! command -v go >/dev/null 2>&1; then
	export PATH="$PATH:/usr/local/go/bin"
fi
go vet ./...
go test -count=1 -timeout 30m "$@" ./...
