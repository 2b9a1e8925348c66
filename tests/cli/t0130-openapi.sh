#!/bin/sh
# The OpenAPI document (docs/web.md, "The API") matches the route table:
# every route sluice-web answers is documented and every documented
# operation is a route, with the same access (open routes have an empty
# security list; others answer 401, and those above viewer 403), every
# "{name}" declared as a path parameter, and GET /api/v1/openapi.json
# serves it without a token.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/pg.sh"
. "$TESTS_DIR/cli/daemons.sh"
WEB=${SLUICE_WEB:?SLUICE_WEB must point at sluice-web}

"$WEB" --routes >"$TMP/routes"
ok $? "sluice-web --routes prints the route table"
expect_grep "$TMP/routes" '^GET /api/v1/dags viewer$' "one line per route: method, pattern, access"

daemons_db openapi
PORT=$(free_port)
printf 'web:\n  listen: 127.0.0.1:%s\n' "$PORT" >"$TMP/w.yaml"
start_daemon "$WEB" w
wait_for "$TMP/w.log" "event=started" 30
ok $? "sluice-web starts"
curl -sS -o "$TMP/openapi.json" -w '%{http_code} %{content_type}\n' \
	"http://127.0.0.1:$PORT/api/v1/openapi.json" >"$TMP/status"
expect_grep "$TMP/status" '^200 application/json$' "GET /api/v1/openapi.json without a token: 200 JSON"
expect_jq "$TMP/openapi.json" '.openapi == "3.1.0"' "an OpenAPI 3.1 document"

python3 - "$TMP/openapi.json" "$TMP/routes" >"$TMP/diff" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
routes = {}
for line in open(sys.argv[2]):
    method, pattern, access = line.split()
    routes[(method.lower(), pattern)] = access
documented = {}
for path, ops in doc["paths"].items():
    pattern = re.sub(r"\{[^}]+\}", "{}", path)
    for method, op in ops.items():
        if method == "parameters":
            continue
        documented[(method, pattern)] = (path, op)
for key in sorted(set(routes) - set(documented)):
    print("undocumented route: %s %s" % key)
for key in sorted(set(documented) - set(routes)):
    print("documented but not a route: %s %s" % key)
for key, (path, op) in sorted(documented.items()):
    if key not in routes:
        continue
    access = routes[key]
    where = "%s %s" % (key[0].upper(), path)
    if "responses" not in op or not op["responses"]:
        print(where + ": no responses")
    if "operationId" not in op:
        print(where + ": no operationId")
    if (access == "open") != (op.get("security") == []):
        print(where + ": access %s but security %s" % (access, op.get("security")))
    if access != "open" and "401" not in op.get("responses", {}):
        print(where + ": needs a token but documents no 401")
    if access in ("operator", "admin") and "403" not in op.get("responses", {}):
        print(where + ": needs %s but documents no 403" % access)
    names = re.findall(r"\{([^}]+)\}", path)
    params = [p["name"] for p in doc["paths"][path].get("parameters", []) + op.get("parameters", [])
              if p.get("in") == "path"]
    for n in names:
        if n not in params:
            print(where + ": path parameter %s is not declared" % n)
PY
expect_file "$TMP/diff" "" "the document and the route table agree"

stop_daemon w
ok $? "sluice-web stops"
done_testing
