#!/bin/sh
# Checks the Prometheus files of deploy/ with promtool (Debian: apt-get
# install prometheus). Run from anywhere; exits non-zero on the first
# failure.
#   deploy/prometheus/check.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
command -v promtool >/dev/null || { echo "check.sh: promtool not found (apt-get install prometheus)" >&2; exit 2; }

echo "== promtool check rules"
promtool check rules loadgen.rules.yml loadgen.alerts.yml

echo "== promtool test rules"
promtool test rules rules_test.yml

echo "== every alert has a unit test"
missing=0
for a in $(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' loadgen.alerts.yml); do
	if ! grep -q "alertname: $a\$" rules_test.yml; then
		echo "alert $a has no alert_rule_test in rules_test.yml" >&2
		missing=1
	fi
done
[ "$missing" = 0 ] || exit 1

echo "== promtool check config"
promtool check config prometheus.yml
# Debian's promtool is built without Kubernetes service discovery.
if out=$(promtool check config prometheus-kubernetes.yml 2>&1); then
	echo "$out"
elif echo "$out" | grep -q 'field kubernetes_sd_configs not found'; then
	echo "prometheus-kubernetes.yml: skipped (this promtool has no Kubernetes discovery)"
else
	echo "$out" >&2
	exit 1
fi

echo "== dashboard queries parse"
promtool check rules ../grafana/queries.rules.yml
echo "check.sh: ok"
