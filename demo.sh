#!/usr/bin/env bash
# The README's main-job command: install what is missing, build, and show
# sluice at work on the example DAGs: validate them, draw two, print cron
# times across a DST change, and run the ETL example to success with
# `sluice test` (the worker's own execution code, no database); then start
# everything on this machine with `sluice standalone` (a private PostgreSQL
# cluster, the scheduler, a worker), trigger the `hello` DAG through it (the
# CLI finds it by itself, no export needed), show the run, and stop it all.
set -euo pipefail
cd "$(dirname "$0")"

bash .ci/install-deps
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
sluice=build/cli/sluice

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
[ -n "${NO_COLOR:-}" ] || [ ! -t 1 ] && say() { printf '\n$ %s\n' "$*"; }

say sluice validate dags-examples
"$sluice" validate dags-examples
say sluice dags show dags-examples/nightly_etl.yaml
"$sluice" dags show dags-examples/nightly_etl.yaml
say sluice dags show dags-examples/daily_report.yaml
"$sluice" dags show dags-examples/daily_report.yaml
say sluice cron "0 2 * * *" --tz Europe/Paris --from 2026-10-23T12:00:00Z --count 4
"$sluice" cron "0 2 * * *" --tz Europe/Paris --from 2026-10-23T12:00:00Z --count 4
say sluice test dags-examples/nightly_etl.yaml --conf region=us
"$sluice" test dags-examples/nightly_etl.yaml --conf region=us
say sluice validate tests/fixtures/invalid/cycle.yaml
"$sluice" validate tests/fixtures/invalid/cycle.yaml || echo "(exit status $?: the file is invalid)"

# --- everything on this machine -----------------------------------------------
# A short path: PostgreSQL's unix socket lives in it; readable by the
# postgres user, which runs the server when this script runs as root.
state=$(mktemp -d /tmp/sluice-demo.XXXXXX)
chmod 755 "$state"
sa=
stop_standalone() {
	if [ -n "$sa" ]; then
		kill -TERM "$sa" 2>/dev/null || true
		wait "$sa" 2>/dev/null || true
		sa=
	fi
	rm -rf "$state"
}
trap stop_standalone EXIT
# No database of the caller's: standalone makes its own, and the CLI finds
# it through the file standalone records (docs/cli.md, "standalone").
unset SLUICE_DATABASE_URL SLUICE_CONFIG PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGSERVICE
say sluice standalone --repo . --path dags-examples --state-dir "$state" "&"
"$sluice" standalone --repo . --path dags-examples --state-dir "$state" \
	>"$state/standalone.out" 2>"$state/standalone.err" &
sa=$!
for _ in $(seq 600); do
	grep -q '^Press Ctrl-C' "$state/standalone.out" && break
	kill -0 "$sa" 2>/dev/null || break
	sleep 0.1
done
cat "$state/standalone.out"
if ! grep -q '^Press Ctrl-C' "$state/standalone.out"; then
	echo "sluice standalone did not start:" >&2
	cat "$state/standalone.err" >&2
	exit 1
fi
say sluice trigger hello --run-id demo --wait
timeout 120 "$sluice" trigger hello --run-id demo --wait
say sluice runs show hello demo
"$sluice" runs show hello demo
say kill -TERM "$sa" "(Ctrl-C)"
kill -TERM "$sa"
status=0
wait "$sa" || status=$?
sa=
cat "$state/standalone.err"
echo "(sluice standalone exited with status $status)"
[ "$status" -eq 0 ]
