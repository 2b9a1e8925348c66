#!/bin/sh
# GET /api/v1/dags/{dag}/graph (docs/web.md): the DAG's latest version laid
# out by Graphviz as SVG, a node per task with the id task-ID and an edge
# per dependency, served with a CSP that lets the picture run nothing;
# 404 for an unknown DAG, 401 without a token, 422 past 1000 tasks.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/seed.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

daemons_db graph
seed_dag "$SRC_DIR/dags-examples/daily_report.yaml" || exit 1
{
	printf 'schedule: null\ntasks:\n'
	i=0
	while [ $i -le 1000 ]; do
		printf '  t%d:\n    command: "true"\n' $i
		i=$((i + 1))
	done
} >"$TMP/big.yaml"
seed_dag "$TMP/big.yaml" || exit 1

printf 'a viewer password\n' >"$TMP/pw"
"$SLUICE" users add vera --role viewer <"$TMP/pw" >/dev/null || exit 1
VIEWER=$("$SLUICE" tokens create vera --json | jq -r .token)

PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$PORT" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"
BASE=http://127.0.0.1:$PORT/api/v1/dags

fetch() { curl -s -D "$TMP/headers" -o "$TMP/body" -w '%{http_code} %{content_type}\n' "$@" >"$TMP/status"; }

fetch -H "Authorization: Bearer $VIEWER" "$BASE/daily_report/graph"
expect_grep "$TMP/status" '^200 image/svg+xml$' "a viewer gets the graph as SVG"
expect_grep "$TMP/body" '<svg' "an SVG document"
"$SLUICE" dags show --json "$SRC_DIR/dags-examples/daily_report.yaml" >"$TMP/def.json"
# Graphviz writes "-" as &#45;: what counts is the id an XML parser (a browser) sees.
python3 -c 'import sys, xml.etree.ElementTree as ET
ids = {g.get("id") for g in ET.parse(sys.argv[1]).iter("{http://www.w3.org/2000/svg}g")}
print(" ".join(sorted(i[5:] for i in ids if i and i.startswith("task-"))))' "$TMP/body" >"$TMP/ids"
expect_str "$(cat "$TMP/ids")" "$(jq -r '[.tasks[].task] | sort | join(" ")' "$TMP/def.json")" \
	"every task has its node, id task-ID"
edges=$(jq '[.tasks[].depends_on // [] | length] | add' "$TMP/def.json")
expect_str "$(grep -c 'class="edge"' "$TMP/body")" "$edges" "one edge per dependency ($edges)"
expect_grep "$TMP/headers" "^content-security-policy: default-src 'none'" \
	"served with a CSP that lets the SVG run nothing"

fetch "$BASE/daily_report/graph"
expect_grep "$TMP/status" '^401 ' "no token: 401"
fetch -H "Authorization: Bearer $VIEWER" "$BASE/nope/graph"
expect_grep "$TMP/status" '^404 application/problem+json' "an unknown DAG: 404"
expect_jq "$TMP/body" ".detail == \"no DAG 'nope'\"" "with the CLI's wording"
fetch -H "Authorization: Bearer $VIEWER" "$BASE/big/graph"
expect_grep "$TMP/status" '^422 application/problem+json' "1001 tasks: 422, not minutes of layout"
expect_jq "$TMP/body" '.detail | test("1001 tasks")' "which says how many"

stop_daemon w
expect_str "$status" 0 "sluice-web stops cleanly"
[ "$status" -eq 0 ] || grep -A12 "ERROR: LeakSanitizer\|^Direct\|^Indirect" "$TMP/w.log" | head -60 | sed "s/^/#   /"
done_testing
