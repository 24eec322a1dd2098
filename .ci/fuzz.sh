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
  # A crash writes "Failing input written to testdata/fuzz/...": that is a
  # failure. The fuzzing coordinator can also stop with only "context
  # deadline exceeded" when the time runs out while a worker is busy (a new
  # input being minimised on a loaded machine): no input fails, so that run
  # is tried once more. -fuzzminimizetime keeps minimising short.
  for try in 1 2; do
    out=$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$pkg" 2>&1) && { echo "$out" | tail -n 2; break; }
    echo "$out"
    if [ "$try" = 1 ] && ! grep -q "Failing input written" <<<"$out" && grep -q "context deadline exceeded" <<<"$out"; then
      echo "fuzz: $name stopped at its deadline with no failing input; once more"
      continue
    fi
    failed+=("$name")
    break
  done
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran $fuzztime clean"
