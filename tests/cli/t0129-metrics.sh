#!/bin/sh
# The daemons' own /metrics (docs/metrics.md): a scheduler and a worker
# with metrics_listen run a DAG, and both endpoints are scraped and parsed
# by the Prometheus Python client: claims, attempts by outcome, slots,
# histograms that observed something, the lease; 404 for another path, 405
# for another method; metrics_listen off loopback refused at file:line:col
# (by --check-config too) unless metrics_insecure: true; and both daemons
# stop with exit 0, the endpoint closed.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"

export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"

python_with prometheus_client python3-prometheus-client

PORT=$(free_port)
MS=$(free_port)
MW=$(free_port)
daemons_db metrics
export SLUICE_CONFIG="$TMP/s1.yaml"

R=$TMP/repo
mkdir -p "$R/dags"
cat >"$R/dags/m.yaml" <<'EOF'
schedule: null
tasks:
  a:
    command: echo a
  b:
    command: echo b
    depends_on: [a]
  c:
    command: echo c
    depends_on: [a]
  d:
    command: echo d
    depends_on: [b, c]
EOF
git_repo "$R" || exit 1

# --- the configuration ---------------------------------------------------------
sched_config "$TMP/bad.yaml" "$R" dags "metrics_listen: 0.0.0.0:$MS"
run "$SCHED" --config "$TMP/bad.yaml" --check-config
expect_status 2 "scheduler --check-config: metrics_listen off loopback is refused"
expect_grep "$TMP/err" "^$TMP/bad.yaml:10:17: metrics_listen: 0.0.0.0:$MS is not a loopback address, and /metrics has neither TLS nor authentication" \
	"the error names file:line:col of the value"
# (A scheduler that started would be stopped by the timeout: status 124.)
run timeout 30 "$SCHED" --config "$TMP/bad.yaml"
expect_status 1 "the scheduler does not start with it"
config_set "$TMP/bad.yaml" "metrics_insecure: true"
run "$SCHED" --config "$TMP/bad.yaml" --check-config
expect_status 0 "metrics_insecure: true allows it"
worker_config "$TMP/wbad.yaml" w9 "metrics_listen: '[::]:$MW'"
run "$WORKER" --config "$TMP/wbad.yaml" --check-config
expect_status 2 "worker --check-config: the same rule"
expect_grep "$TMP/err" "^$TMP/wbad.yaml:[0-9]*:17: metrics_listen: \[::\]:$MW is not a loopback address" \
	"at the value's file:line:col"
worker_config "$TMP/wbad2.yaml" w9 "metrics_listen: 127.0.0.1"
run "$WORKER" --config "$TMP/wbad2.yaml" --check-config
expect_status 2 "a metrics_listen without a port is refused"
expect_grep "$TMP/err" "metrics_listen: '127.0.0.1' is not host:port" "and says why"

# --- a run, scraped ----------------------------------------------------------------
sched_config "$TMP/s1.yaml" "$R" dags "metrics_listen: 127.0.0.1:$MS"
worker_config "$TMP/w1.yaml" w1 "metrics_listen: localhost:$MW" "slots: 3"
start_scheduler s1
start_worker w1
wait_for "$TMP/s1.log" "event=started.* metrics_listen=127.0.0.1:$MS" 30
ok $? "the scheduler starts and logs its metrics_listen"
wait_for "$TMP/w1.log" "event=connected" 30
ok $? "the worker connects"
wait_sql "SELECT count(*) = 1 FROM dags WHERE dag_id = 'm'"
ok $? "the DAG is loaded"
run "$SLUICE" trigger m --run-id r1 --wait
expect_status 0 "a run of four tasks succeeds"

# scrape PORT PATH METHOD: "STATUS CONTENT-TYPE ALLOW" then the body, in $TMP/scrape.
scrape() {
	"$PY" - "$1" "$2" "$3" >"$TMP/scrape" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
c.request(sys.argv[3], sys.argv[2])
r = c.getresponse()
body = r.read()
print(r.status, r.getheader("Content-Type"), r.getheader("Allow"), len(body))
sys.stdout.write(body.decode())
PY
}

# check PORT: parse the body with the client; print NAME{LABELS} VALUE lines.
check() {
	"$PY" - "$TMP/scrape" >"$TMP/parsed" 2>"$TMP/parse.err" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
body = open(sys.argv[1]).read().split("\n", 1)[1]
for fam in text_string_to_metric_families(body):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s {%s} %s %s" % (s.name, labels, repr(float(s.value)), fam.type))
PY
}

# value NAME LABELS: the sample's value as parsed ("" when absent).
value() {
	awk -v n="$1" -v l="{$2}" '$1 == n && $2 == l { print $3 }' "$TMP/parsed"
}

scrape "$MS" /metrics GET
expect_grep "$TMP/scrape" '^200 text/plain; version=0.0.4; charset=utf-8 ' \
	"scheduler GET /metrics: 200, the exposition format's content type"
echo "# the scheduler's page: $(sed 1d "$TMP/scrape" | wc -l) lines, $(sed 1d "$TMP/scrape" | wc -c) bytes"
check
ok $? "the Prometheus client parses the scheduler's page"
[ -s "$TMP/parse.err" ] && sed 's/^/# /' "$TMP/parse.err"
sed 1d "$TMP/scrape" >"$TMP/page"
promtool_check "$TMP/page" "promtool check metrics: the scheduler's page is clean"
claims=$(value sluice_scheduler_claims_total "")
[ "${claims%.*}" -ge 4 ] 2>/dev/null
ok $? "claims_total ($claims) >= the four tasks"
expect_str "$(value sluice_scheduler_lease_holder "")" 1.0 "lease_holder is 1"
expect_str "$(value sluice_scheduler_workers_connected "")" 1.0 "one worker connected"
expect_str "$(value sluice_scheduler_results_total 'outcome="success"')" 4.0 \
	"results_total{outcome=success} is 4"
n=$(value sluice_scheduler_dispatch_latency_seconds_count "")
[ "${n%.*}" -ge 4 ] 2>/dev/null
ok $? "the dispatch latency histogram observed every dispatch ($n)"
n=$(value sluice_scheduler_tick_duration_seconds_count "")
[ "${n%.*}" -gt 0 ] 2>/dev/null
ok $? "the tick duration histogram observed ticks ($n)"
expect_str "$(value sluice_scheduler_tick_duration_seconds_bucket 'le="+Inf"')" "$n" \
	"its +Inf bucket holds every tick"
n=$(value sluice_scheduler_transactions_total "")
[ "${n%.*}" -gt 0 ] 2>/dev/null
ok $? "transactions_total counts commits ($n)"
expect_grep "$TMP/parsed" '^sluice_scheduler_db_errors_total {kind="unavailable"} 0.0 counter$' \
	"db_errors_total by kind, 0"
cp "$TMP/parsed" "$TMP/parsed.sched"

scrape "$MW" /metrics GET
expect_grep "$TMP/scrape" '^200 text/plain; version=0.0.4; charset=utf-8 ' "worker GET /metrics: 200"
echo "# the worker's page: $(sed 1d "$TMP/scrape" | wc -l) lines, $(sed 1d "$TMP/scrape" | wc -c) bytes"
check
ok $? "the Prometheus client parses the worker's page"
[ -s "$TMP/parse.err" ] && sed 's/^/# /' "$TMP/parse.err"
sed 1d "$TMP/scrape" >"$TMP/page"
promtool_check "$TMP/page" "promtool check metrics: the worker's page is clean"
expect_str "$(value sluice_worker_attempts_total 'outcome="success"')" 4.0 \
	"attempts_total{outcome=success} equals the tasks run"
expect_str "$(value sluice_worker_attempts_total 'outcome="failed"')" 0.0 "none failed"
expect_str "$(value sluice_worker_slots "")" 3.0 "slots is the configured 3"
expect_str "$(value sluice_worker_slots_busy "")" 0.0 "no slot busy once the run is done"
expect_str "$(value sluice_worker_scheduler_connected "")" 1.0 "the scheduler connection is up"
h=$(value sluice_worker_checkout_cache_hits_total "")
m=$(value sluice_worker_checkout_cache_misses_total "")
expect_str "$h $m" "3.0 1.0" "one checkout built, then three hits"

# The Grafana dashboard uses only series the daemons serve, and a
# "Database" row for sluice-web's (t0137 checks those).
"$PY" - "$SRC_DIR/docs/grafana/sluice.json" "$TMP/parsed.sched" "$TMP/parsed" >"$TMP/dash" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
served = set(l.split()[0] for f in sys.argv[2:] for l in open(f))
used = set()
for p in dash["panels"]:
    for t in p.get("targets", []):
        used |= set(re.findall(r"sluice_(?:scheduler|worker)_[a-z_]+", t["expr"]))
print("missing:", " ".join(sorted(used - served)) or "none")
print("rows:", " ".join(p["title"] for p in dash["panels"] if p["type"] == "row"))
PY
expect_grep "$TMP/dash" '^missing: none$' "every series of docs/grafana/sluice.json is served"
expect_grep "$TMP/dash" '^rows: Scheduler Workers Database$' "with a Database row"

# --- other paths and methods ---------------------------------------------------------
scrape "$MS" /nope GET
expect_grep "$TMP/scrape" '^404 application/problem+json ' "another path: 404"
scrape "$MW" /metrics POST
expect_grep "$TMP/scrape" '^405 application/problem+json GET, HEAD ' "POST /metrics: 405 with Allow"
scrape "$MS" /metrics HEAD
expect_grep "$TMP/scrape" '^200 text/plain; version=0.0.4; charset=utf-8 None 0$' \
	"HEAD /metrics: 200 without a body"
scrape "$MS" '/metrics?x=1' GET
expect_grep "$TMP/scrape" '^200 ' "a query string is ignored"

# A second worker cannot take the same metrics port: it says so and exits.
worker_config "$TMP/w2.yaml" w2 "metrics_listen: 127.0.0.1:$MW"
run "$WORKER" --config "$TMP/w2.yaml"
expect_status 1 "a worker whose metrics port is taken does not start"
expect_grep "$TMP/err" "level=error event=listen_failed what=metrics listen=127.0.0.1:$MW error=\"127.0.0.1:$MW: address already in use\"" \
	"and logs the address and why"

# --- a clean stop --------------------------------------------------------------------
stop_daemon w1
expect_str "$status" 0 "the worker stops with exit 0"
stop_daemon s1
expect_str "$status" 0 "the scheduler stops with exit 0"
scrape "$MS" /metrics GET 2>/dev/null
ok $((! $?)) "nothing listens on the scheduler's metrics port any more"

done_testing
