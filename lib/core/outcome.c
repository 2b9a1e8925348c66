#include "sluice/outcome.h"

#include <string.h>

#include "sluice/banned.h"

static const char *const names[] = {
    [SL_OUTCOME_SUCCESS] = "success",
    [SL_OUTCOME_SKIPPED] = "skipped",
    [SL_OUTCOME_RESCHEDULE] = "reschedule",
    [SL_OUTCOME_FAILED] = "failed",
    [SL_OUTCOME_TIMEOUT] = "timeout",
    [SL_OUTCOME_CANCELLED] = "cancelled",
    [SL_OUTCOME_LOST] = "lost",
};

bool sl_outcome_valid(enum sl_outcome outcome)
{
	return (size_t)outcome < sizeof(names) / sizeof(names[0]) && names[outcome];
}

const char *sl_outcome_name(enum sl_outcome outcome)
{
	return sl_outcome_valid(outcome) ? names[outcome] : "unknown";
}

bool sl_outcome_parse(const char *name, size_t len, enum sl_outcome *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i] && strlen(names[i]) == len && !memcmp(names[i], name, len)) {
			*out = (enum sl_outcome)i;
			return true;
		}
	}
	return false;
}
