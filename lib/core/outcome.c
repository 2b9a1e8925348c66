#include "sluice/outcome.h"

#include "sluice/banned.h"

const char *sl_outcome_name(enum sl_outcome outcome)
{
	switch (outcome) {
	case SL_OUTCOME_SUCCESS:
		return "success";
	case SL_OUTCOME_SKIPPED:
		return "skipped";
	case SL_OUTCOME_RESCHEDULE:
		return "reschedule";
	case SL_OUTCOME_FAILED:
		return "failed";
	case SL_OUTCOME_TIMEOUT:
		return "timeout";
	case SL_OUTCOME_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}
