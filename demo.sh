#!/usr/bin/env bash
# The README's main-job command: install what is missing, build, and show
# sluice at work on the example DAGs: validate them, draw two, print cron
# times across a DST change, and run the ETL example to success with
# `sluice test` (the worker's own execution code, no database). When the
# scheduler lands, this script starts `sluice standalone` instead.
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
