#!/bin/sh
# `sluice cron`: next fire times in a zone, across DST, and bad input.
. "$(dirname "$0")/lib.sh"

run "$SLUICE" cron '*/15 9-17 * * MON-FRI' --count 5 --from 2026-03-27T08:00:00Z \
	--tz Europe/Paris
expect_status 0 "weekday business hours in Paris"
expect_file "$TMP/out" "2026-03-27T09:15:00+01:00
2026-03-27T09:30:00+01:00
2026-03-27T09:45:00+01:00
2026-03-27T10:00:00+01:00
2026-03-27T10:15:00+01:00" "first five times, strictly after --from"

run "$SLUICE" cron '*/15 9-17 * * MON-FRI' --count 5 --from 2026-03-27T16:00:00Z \
	--tz Europe/Paris
expect_file "$TMP/out" "2026-03-27T17:15:00+01:00
2026-03-27T17:30:00+01:00
2026-03-27T17:45:00+01:00
2026-03-30T09:00:00+02:00
2026-03-30T09:15:00+02:00" "over the weekend and the spring-forward change"

run "$SLUICE" cron '30 2 * * *' --count 3 --from 2026-03-27T12:00:00 --tz Europe/Paris
expect_file "$TMP/out" "2026-03-28T02:30:00+01:00
2026-03-29T03:00:00+02:00
2026-03-30T02:30:00+02:00" "a fixed time in the DST gap fires once when the gap ends"

run "$SLUICE" cron '0 0 29 2 *' --count 2 --from 2026-01-01T00:00:00Z
expect_file "$TMP/out" "2028-02-29T00:00:00Z
2032-02-29T00:00:00Z" "February 29 only in leap years"

run "$SLUICE" cron '@daily' --count 1 --from 2026-03-27T08:00:00Z --json
expect_status 0 "--json exits 0"
run jq -e '.times == ["2026-03-28T00:00:00Z"] and .timezone == "UTC"' "$TMP/out"
expect_status 0 "--json lists the times"

run "$SLUICE" cron '0 0 30 2 *'
expect_status 1 "a never-firing expression fails"
expect_grep "$TMP/err" "never fire" "and says why"

run "$SLUICE" cron '61 * * * *'
expect_status 1 "a bad minute fails"
expect_grep "$TMP/err" "^  \\^" "the caret points at the bad field"

run "$SLUICE" cron '* * * * *' --tz Mars/Olympus
expect_status 2 "an unknown --tz is a usage error"
expect_grep "$TMP/err" "^sluice cron: --tz: " "the flag is named"

run "$SLUICE" cron '* * * * *' --from yesterday
expect_status 2 "a bad --from is a usage error"
expect_grep "$TMP/err" "^sluice cron: --from: " "the flag is named"

run "$SLUICE" cron '* * * * *' --count 0
expect_status 2 "--count 0 is a usage error"

run "$SLUICE" cron '*' '*' '*' '*' '*'
expect_status 2 "an unquoted expression is a usage error"
expect_grep "$TMP/err" "quote the expression" "with a hint"

done_testing
