#!/bin/sh
# GET /metrics on sluice-web (docs/metrics.md, "sluice-web"): what the
# database says, parsed by Prometheus' own Python client: runs and task
# instances by DAG and state, the last run's duration, DAGs by paused,
# load errors, pools, queues; a viewer's token needed.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}
python_with prometheus_client python3-prometheus-client

daemons_db webmetrics
seed_dag "$SRC_DIR/dags-examples/hello.yaml" || exit 1
seed_dag "$SRC_DIR/dags-examples/nightly_etl.yaml" || exit 1
for r in a b c; do
	"$SLUICE" trigger hello --run-id "$r" >/dev/null || exit 1
done
"$SLUICE" dags pause nightly_etl >/dev/null || exit 1
"$SLUICE" pools set warehouse 3 >/dev/null || exit 1
# Run c ended: 90 s from start to end.
pg_sql "UPDATE runs SET state = 'success', started_at = now() - interval '100 s', ended_at = now() - interval '10 s' WHERE run_id = 'c'" >/dev/null
C=0000000000000000000000000000000000000001
pg_sql "INSERT INTO source_state (repo, path, commit) VALUES ('/repo', 'dags', '$C')" >/dev/null || exit 1
pg_sql "INSERT INTO load_errors (commit, path, line, col, message) VALUES ('$C', 'dags/bad.yaml', 1, 1, 'broken'), ('0000000000000000000000000000000000000002', 'dags/old.yaml', 1, 1, 'gone')" >/dev/null || exit 1

printf 'a viewer password\n' >"$TMP/pw"
"$SLUICE" users add vera --role viewer <"$TMP/pw" >/dev/null || exit 1
VIEWER=$("$SLUICE" tokens create vera --json | jq -r .token)

PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$PORT" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"

curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/metrics" >"$TMP/anon"
expect_grep "$TMP/anon" '^401$' "no token: 401"
curl -s -D "$TMP/headers" -o "$TMP/metrics" -H "Authorization: Bearer $VIEWER" \
	"http://127.0.0.1:$PORT/metrics"
expect_grep "$TMP/headers" '^content-type: text/plain; version=0.0.4' "the text exposition format"

"$PY" - "$TMP/metrics" >"$TMP/samples" <<'PY' 2>"$TMP/parse.err"
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    print("family", fam.name, fam.type)
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("sample %s{%s} %g" % (s.name, labels, s.value))
PY
ok $? "Prometheus' parser reads the page"
sed 's/^/# /' "$TMP/parse.err"
promtool_check "$TMP/metrics" "promtool check metrics: the page is clean"
for f in sluice_runs sluice_task_instances sluice_dag_last_run_duration_seconds sluice_dags \
	sluice_load_errors sluice_pool_slots sluice_pool_slots_used sluice_pool_slots_open \
	sluice_pool_tasks_waiting sluice_queue_tasks sluice_queue_served; do
	expect_grep "$TMP/samples" "^family $f gauge$" "$f is a gauge"
done
expect_grep "$TMP/samples" '^sample sluice_runs{dag=hello,state=queued} 2$' "two queued runs of hello"
expect_grep "$TMP/samples" '^sample sluice_runs{dag=hello,state=success} 1$' "one successful run"
expect_grep "$TMP/samples" '^sample sluice_task_instances{dag=hello,state=pending} 6$' \
	"the task instances of the two runs not finished (3 tasks each)"
expect_grep "$TMP/samples" '^sample sluice_dag_last_run_duration_seconds{dag=hello,state=success} 90$' \
	"the last run's duration, 90 s"
expect_grep "$TMP/samples" '^sample sluice_dags{paused=true} 1$' "one paused DAG"
expect_grep "$TMP/samples" '^sample sluice_dags{paused=false} 1$' "one running DAG"
expect_grep "$TMP/samples" '^sample sluice_load_errors{} 1$' "one load error: the current commit's only"
expect_grep "$TMP/samples" '^sample sluice_pool_slots{pool=warehouse} 3$' "the pool's slots"
expect_grep "$TMP/samples" '^sample sluice_pool_slots_open{pool=warehouse} 3$' "all open"

# The dashboard's Database row uses only series this page serves.
"$PY" - "$SRC_DIR/docs/grafana/sluice.json" "$TMP/samples" >"$TMP/dash" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
served = set(l.split()[1] for l in open(sys.argv[2]) if l.startswith("family "))
used = set()
for p in dash["panels"]:
    for t in p.get("targets", []):
        used |= set(n for n in re.findall(r"sluice_[a-z_]+", t["expr"])
                    if not re.match(r"sluice_(scheduler|worker)_", n))
print("used:", len(used))
print("missing:", " ".join(sorted(used - served)) or "none")
PY
expect_grep "$TMP/dash" '^missing: none$' "every sluice-web series of docs/grafana/sluice.json is served"
expect_grep "$TMP/dash" '^used: [1-9]' "and the dashboard uses some"

stop_daemon w
expect_str "$status" 0 "sluice-web stops cleanly"
done_testing
