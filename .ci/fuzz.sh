#!/usr/bin/env bash
# Runs every native Go fuzz target for a bounded time (FUZZTIME, default
# 15s each), one at a time: `go test -fuzz` takes one target per run.
# The seed corpora (f.Add seeds and testdata/fuzz/FuzzXxx) also run in a
# plain `go test ./...`. A failing input is written by go test under the
# package's testdata/fuzz/FuzzXxx/: commit it as a regression seed with
# the fix. Exits non-zero when any target fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

fuzztime="${FUZZTIME:-15s}"
targets=(
  "./internal/scenario/ FuzzParse"
  "./internal/signal/ FuzzParseNotification"
  "./internal/signal/ FuzzNotificationRoundTrip"
  "./internal/signal/ FuzzDedup"
  "./internal/token/ FuzzDecode"
  "./internal/token/ FuzzMintDecode"
  "./internal/media/ FuzzSDP"
)

failed=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "== fuzz $name ($pkg, $fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
    failed+=("$name")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran $fuzztime clean"
