#!/usr/bin/env bash
# Live check of the dashboard and the recording rules against real Prometheus
# servers (issue 12, "What must show").
#
# One short loadgen run on loopback (embedded gateway rejecting a quarter of
# the calls, audio+video, a mid-call hold) is scraped every second by TWO
# Prometheus servers at once: a classic one and one started with
# --enable-feature=native-histograms (on 2.42 a native scrape hides the
# classic _bucket series). Both load deploy/prometheus/loadgen.rules.yml and
# loadgen.alerts.yml, so the rules are evaluated by the servers too.
#
# Then, while the run lingers (--metrics-linger):
#   1. the linger check: the summary.json of the run is complete, and the last
#      scrape (on /metrics directly and as recorded by each server, scraped
#      after the run ended) shows 0 calls in progress, up and on hold,
#      sum(loadgen_calls_total) = succeeded+failed+aborted and
#      loadgen_calls_attempted_total = attempted;
#   2. tools/querycheck evaluates every dashboard query (range queries over
#      the run, as Grafana draws them; instant ones at the end) and every
#      recording rule, checks that every recorded series exists and that no
#      rule is in error, against each server.
# Pass: every expression returns data on both servers, except those named in
# deploy/grafana/live-allowlist.txt (each with its reason); a query that
# returns no data elsewhere, an error, or a failed linger check fails.
# A table of which expressions return data on which server is printed.
#
# Needs: go, python3, curl, Debian's prometheus (apt-get install -y
# prometheus: /usr/bin/prometheus 2.42). Only 127.0.0.1 is used; every
# process started here is ended on exit. Takes about a minute.
#
#   .ci/prometheus-live.sh
#   PROMLIVE_OUT=dir .ci/prometheus-live.sh   # keep the results, table and logs in dir
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

for tool in go python3 curl prometheus; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "prometheus-live: $tool not found (prometheus: apt-get install -y prometheus)" >&2
		exit 2
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/prometheus-live.XXXXXX")
pids=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	local deadline=$((SECONDS + 10))
	for p in "${pids[@]}"; do
		while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" != 0 ]; then
		for f in "$tmp"/loadgen.err "$tmp"/classic/prometheus.log "$tmp"/native/prometheus.log; do
			if [ -s "$f" ]; then
				echo "--- tail of $f" >&2
				tail -n 30 "$f" >&2
			fi
		done
	fi
	if [ -n "${PROMLIVE_OUT:-}" ]; then
		mkdir -p "$PROMLIVE_OUT"
		cp -r "$tmp"/*.json "$tmp"/table.txt "$tmp"/loadgen.* "$tmp"/out "$PROMLIVE_OUT"/ 2>/dev/null || true
		for s in classic native; do
			cp "$tmp/$s/prometheus.log" "$PROMLIVE_OUT/prometheus-$s.log" 2>/dev/null || true
		done
	fi
	rm -rf "$tmp"
	echo "prometheus-live: $([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "prometheus-live: $*" >&2
	exit 1
}

# free_port prints a TCP port free on 127.0.0.1 now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.5 s.
wait_for() {
	local limit=$1 what=$2
	shift 2
	local deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || die "timed out after ${limit}s waiting for $what"
		sleep 0.5
	done
}

# promq URL EXPR: the value of the first sample of an instant query, or
# "none" when the result is empty.
promq() {
	curl -fsS --max-time 10 --data-urlencode "query=$2" "$1/api/v1/query" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")'
}

# scraping URL: the server's last scrape of loadgen succeeded.
scraping() {
	[ "$(promq "$1" 'up{job="loadgen"}')" = 1 ]
}

# scraped_since URL T: the server holds a sample of the run scraped at T
# (Unix seconds) or later.
scraped_since() {
	python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))' \
		"$(promq "$1" "max(timestamp(loadgen_calls_in_progress{$sel}))")" "$2"
}

echo "== build"
go build -o bin/loadgen ./cmd/loadgen
# querycheck is built once (go run would link it twice).
(cd tools && go build -o "$tmp/querycheck" ./querycheck)

echo "== start Prometheus (classic and native histograms)"
lport=$(free_port)
run_id="promlive-$(date -u +%Y%m%dT%H%M%S)-$$"
sel="run_id=\"$run_id\""
declare -A url
for server in classic native; do
	dir="$tmp/$server"
	mkdir -p "$dir/data"
	port=$(free_port)
	url[$server]="http://127.0.0.1:$port"
	cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/loadgen.rules.yml
  - $root/deploy/prometheus/loadgen.alerts.yml
scrape_configs:
  - job_name: loadgen
    static_configs:
      - targets: ["127.0.0.1:$lport"]
EOF
	flags=()
	if [ "$server" = native ]; then
		flags=(--enable-feature=native-histograms)
	fi
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" --log.level=warn "${flags[@]}" >"$dir/prometheus.log" 2>&1 &
	pids+=($!)
done
for server in classic native; do
	wait_for 60 "$server Prometheus to be ready" curl -fsS --max-time 2 "${url[$server]}/-/ready"
	echo "$server: ${url[$server]}"
done

echo "== loadgen run (run_id $run_id, metrics on 127.0.0.1:$lport)"
# 30 calls at 2/s with audio and video, each held 3 s with a 1 s mid-call
# hold; the embedded gateway rejects a quarter of them (486), so failure
# counters exist. The thresholds are loose: the run's verdict is not what is
# checked here (an overloaded CI machine makes the run invalid, which is data
# too).
cat >"$tmp/promlive.yaml" <<'EOF'
name: promlive
load: {rate: 2, duration: 15s, max_concurrent: 100}
call:
  hold: 3s
  audio: true
  video: true
  hold_unhold: [{at: 1s, duration: 1s}]
gateway: {answer_delay: 200ms, ringing: true, ringing_delay: 100ms, reject_ratio: 0.25}
thresholds:
  connect: ["p(99) < 10s"]
  failures: ["rate < 0.9"]
EOF
start=$(($(date +%s) - 2))
./bin/loadgen run --metrics-listen "127.0.0.1:$lport" --metrics-linger 150s --run-id "$run_id" --shard 0/1 \
	--grace 20s --progress-interval 5s --out "$tmp/out" "$tmp/promlive.yaml" >"$tmp/loadgen.out" 2>"$tmp/loadgen.err" &
lpid=$!
pids+=("$lpid")
wait_for 30 "loadgen's metrics line" grep -q "metrics on http://127.0.0.1:$lport/metrics" "$tmp/loadgen.err"
for server in classic native; do
	wait_for 20 "$server to scrape loadgen" scraping "${url[$server]}"
done
lingering() {
	kill -0 "$lpid" 2>/dev/null || die "loadgen exited before its linger: $(tail -n 5 "$tmp/loadgen.err")"
	grep -q "metrics up for .* (--metrics-linger)" "$tmp/loadgen.err"
}
deadline=$((SECONDS + 90))
until lingering; do
	[ "$SECONDS" -lt "$deadline" ] || die "the run did not end within 90 s"
	sleep 0.5
done
linger_start=$(date +%s.%N)
sed 's/^/  /' "$tmp/loadgen.err"

echo "== linger: the final scrape against summary.json"
read -r attempted ended < <(python3 - "$tmp/out/summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
if not s.get("complete"):
    sys.exit("summary.json is not complete")
c = s["calls"]
print(c["attempted"], c["succeeded"] + c["failed"] + c["aborted"])
EOF
)
[ "$ended" -gt 0 ] || die "summary.json: no call ended"
echo "summary.json: attempted $attempted, ended $ended (succeeded+failed+aborted)"
curl -fsS --max-time 5 "http://127.0.0.1:$lport/metrics" >"$tmp/loadgen.final.prom"
python3 - "$tmp/loadgen.final.prom" "$run_id" "$attempted" "$ended" <<'EOF'
import re, sys
path, run_id, attempted, ended = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
sums = {}
for line in open(path):
    m = re.match(r'^(loadgen_[a-z_]+)\{([^}]*)\} (\S+)$', line)
    if m and f'run_id="{run_id}"' in m.group(2):
        sums[m.group(1)] = sums.get(m.group(1), 0.0) + float(m.group(3))
want = {"loadgen_calls_in_progress": 0, "loadgen_calls_up": 0, "loadgen_calls_on_hold": 0,
        "loadgen_calls_total": ended, "loadgen_calls_attempted_total": attempted}
bad = [f"{k} = {sums.get(k)}, want {v:g}" for k, v in want.items() if sums.get(k) != v]
if bad:
    sys.exit("/metrics during linger: " + "; ".join(bad))
print("/metrics during linger: " + ", ".join(f"{k} {sums[k]:g}" for k in want))
EOF
for server in classic native; do
	u=${url[$server]}
	# Wait for a scrape taken after the run ended.
	wait_for 15 "$server to scrape during the linger" scraped_since "$u" "$linger_start"
	got="in_progress=$(promq "$u" "sum(loadgen_calls_in_progress{$sel})") up=$(promq "$u" "sum(loadgen_calls_up{$sel})")"
	got+=" on_hold=$(promq "$u" "sum(loadgen_calls_on_hold{$sel})") calls=$(promq "$u" "sum(loadgen_calls_total{$sel})")"
	got+=" attempted=$(promq "$u" "sum(loadgen_calls_attempted_total{$sel})")"
	want="in_progress=0 up=0 on_hold=0 calls=$ended attempted=$attempted"
	[ "$got" = "$want" ] || die "$server: final scrape shows $got, want $want"
	echo "$server: final scrape shows $got"
done

echo "== connect (service) over the run: classic buckets, native histogram, HDR (summary.json); for information"
end=$(date +%s)
window="$((end - start))s"
csel="$sel, phase=\"connect\", timing=\"service\""
for q in 50 90 99; do
	classic=$(promq "${url[classic]}" "histogram_quantile(0.$q, sum by (le) (increase(loadgen_call_phase_seconds_bucket{$csel}[$window])))")
	native=$(promq "${url[native]}" "histogram_quantile(0.$q, sum(increase(loadgen_call_phase_seconds{$csel}[$window])))")
	hdr=$(python3 -c 'import json, sys
for p in json.load(open(sys.argv[1]))["phases"]:
    if p["phase"] == "connect":
        print(p["service"]["p" + sys.argv[2]] / 1e6)' "$tmp/out/summary.json" "$q")
	echo "  p$q: classic $classic s, native $native s, HDR $hdr s"
done

echo "== querycheck (every dashboard query and recording rule)"
fails=0
for server in classic native; do
	echo "-- $server"
	rc=0
	# $__rate_interval 8s: Grafana's for a 2 s scrape interval (4 scrapes);
	# $__range: the whole run.
	(cd tools && timeout 120 "$tmp/querycheck" -url "${url[$server]}" \
		-start "$start" -end "$end" -step 1s -rate-interval 8s -range "$window" \
		-var "run_id=$run_id" -var scenario=promlive -recorded \
		-allow ../deploy/grafana/live-allowlist.txt -json "$tmp/$server.json") || rc=$?
	if [ "$rc" != 0 ]; then
		echo "prometheus-live: querycheck against $server exited $rc" >&2
		fails=$((fails + 1))
	fi
done

echo "== end the linger"
kill -INT "$lpid"
deadline=$((SECONDS + 30))
while kill -0 "$lpid" 2>/dev/null; do
	[ "$SECONDS" -lt "$deadline" ] || die "loadgen did not exit within 30 s of SIGINT"
	sleep 0.2
done
lrc=0
wait "$lpid" || lrc=$?
# 0 ok, 99 thresholds crossed, 100 invalid (an overloaded machine), 105
# interrupted (the SIGINT that ended the linger); 1 and 2 are the tool's
# own failures.
case "$lrc" in
0 | 99 | 100 | 105) echo "loadgen exited $lrc" ;;
*) die "loadgen exited $lrc" ;;
esac

echo "== which expressions return data (series count per server)"
"$tmp/querycheck" -table "classic=$tmp/classic.json" -table "native=$tmp/native.json" | tee "$tmp/table.txt"
[ "$fails" = 0 ] || die "querycheck failed on $fails server(s): see NO DATA / ERROR above"
