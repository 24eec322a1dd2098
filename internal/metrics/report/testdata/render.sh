#!/bin/sh
# render.sh: write a sample result directory and its report.html, then
# screenshot it with headless Chromium (Debian: apt-get install -y chromium).
# Not run by go test. Usage: internal/metrics/report/testdata/render.sh [OUTDIR]
# Look at OUTDIR/report.png afterwards.
set -eu
out=${1:-/tmp/loadgen-report}
root=$(cd "$(dirname "$0")/../../../.." && pwd)
rm -rf "$out"
mkdir -p "$out"
cd "$root"
go test ./internal/metrics/report/ -run '^TestWrite$' -count=1 -args -sample="$out"
test -s "$out/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run \
	--screenshot="$out/report.png" --window-size=1200,4200 "file://$out/report.html" 2>"$out/chromium.log"
test -s "$out/report.png"
echo "report: $out/report.html"
echo "screenshot: $out/report.png"
