# Browser tests (tests/ui/test_*.py, headless Chromium driven by WebDriver)
# for tests/cli/t*.sh: source after lib.sh.
#
# BROWSER is empty when the pieces are here, else what is missing; in CI
# (CI set) a missing piece fails the test rather than skipping it.
# browser_run SCRIPT URL runs tests/ui/SCRIPT against URL, its TAP lines
# numbered after this test's, and adds its counts to the test's.

# Debian's python3-selenium is for Debian's python3, which may not be the
# first on PATH.
BROWSER_PY=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import selenium' 2>/dev/null; then
		BROWSER_PY=$p
		break
	fi
done
CHROMEDRIVER=$(command -v chromedriver || true)
BROWSER=
if [ -z "$BROWSER_PY" ] || [ -z "$CHROMEDRIVER" ] || ! command -v chromium >/dev/null; then
	BROWSER="needs chromium, chromium-driver and python3-selenium (.ci/install-deps)"
	if [ -n "${CI-}" ]; then
		echo "# CI is set and the browser test cannot run: $BROWSER" >&2
		exit 1
	fi
fi
# Screenshots go to the build folder's screenshots/ when there is one.
SHOTS=$TMP/screenshots
[ -n "${SLUICE_BUILD_ROOT-}" ] && SHOTS=$SLUICE_BUILD_ROOT/screenshots

browser_run() {
	mkdir -p "$SHOTS"
	rm -f "$TMP/browser.count"
	CHROMEDRIVER=$CHROMEDRIVER "$BROWSER_PY" "$TESTS_DIR/ui/$1" "$2" "$SHOTS" \
		$((tap_n + 1)) "$TMP/browser.count"
	browser_ran=$?
	if [ -s "$TMP/browser.count" ]; then
		read -r browser_n browser_failed <"$TMP/browser.count"
		tap_n=$((tap_n + browser_n))
		tap_failed=$((tap_failed + browser_failed))
	fi
	ok $browser_ran "the browser session ($1) ran to its end"
	echo "# screenshots in $SHOTS"
}
