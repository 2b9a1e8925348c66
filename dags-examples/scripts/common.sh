# Shared by the example scripts: where demo data lives, and how to hand a
# value to downstream tasks ($SLUICE_OUTPUT is set by the worker; outside
# sluice the value is printed instead).
DEMO_DIR=${SLUICE_DEMO_DIR:-/tmp/sluice-demo}
mkdir -p "$DEMO_DIR"

output() {
	if [ -n "${SLUICE_OUTPUT:-}" ]; then
		printf '%s=%s\n' "$1" "$2" >>"$SLUICE_OUTPUT"
	else
		printf 'output %s=%s\n' "$1" "$2"
	fi
}
