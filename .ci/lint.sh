#!/usr/bin/env bash
# Lint as code (issue 9 item 7): installs the pinned golangci-lint when it is
# missing or another version, checks .golangci.yml against golangci-lint's
# embedded schema, then lints the loadgen module and the separate tools
# module with it. Exits non-zero on any finding (both modules are linted
# first, so one run shows everything).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: bump deliberately, then fix what the new version finds.
GOLANGCI_LINT_VERSION=v2.15.0

export PATH="/usr/local/go/bin:$PATH"
gobin="$(go env GOPATH)/bin"
lint="$gobin/golangci-lint"

if [ ! -x "$lint" ] || [ "$("$lint" version --short 2>/dev/null || true)" != "${GOLANGCI_LINT_VERSION#v}" ]; then
  echo "lint: installing golangci-lint $GOLANGCI_LINT_VERSION into $gobin (builds from source; a few minutes)"
  GOBIN="$gobin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
"$lint" version

echo "== golangci-lint config verify"
"$lint" config verify

status=0
echo "== golangci-lint: loadgen module"
"$lint" run ./... || status=1
echo "== golangci-lint: tools module (same .golangci.yml, found in the parent directory)"
(cd tools && "$lint" run ./...) || status=1

if [ "$status" -ne 0 ]; then
  echo "lint: findings above" >&2
fi
exit "$status"
