# Helpers for tests that drive sluice-worker against the scripted fake
# scheduler (tests/tools/fake_scheduler): source after lib.sh and daemons.sh.
#
#   fake NAME [--port N] COMMAND...   start it (its output in NAME.out, its
#                                     pid in $FPID, its port in $PORT)

FAKE=${SLUICE_FAKE_SCHEDULER:?SLUICE_FAKE_SCHEDULER must point at fake_scheduler}

fake() {
	name=$1
	shift
	"$FAKE" "$@" >"$name.out" 2>&1 &
	FPID=$!
	wait_for "$name.out" '^port ' || echo "# fake scheduler did not start"
	PORT=$(sed -n 's/^port //p' "$name.out")
}
