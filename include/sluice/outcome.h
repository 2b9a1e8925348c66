#ifndef SLUICE_OUTCOME_H
#define SLUICE_OUTCOME_H

/**
 * How an attempt ended, as the task runner (sl_taskexec), the retry rules
 * (sl_rules_after_attempt) and the engine see it. A header of its own, with
 * no dependency, so that the rules and the database core need not include
 * the process runner (and libuv) for one enum. The job protocol carries it
 * as its own enum (sl_proto_outcome) and the database as text
 * (sl_outcome_name); "lost" exists only there: an attempt nobody ran to its
 * end is judged by the rules as failed.
 */
enum sl_outcome {
	SL_OUTCOME_SUCCESS,    /* exit 0 */
	SL_OUTCOME_SKIPPED,    /* exit 99 */
	SL_OUTCOME_RESCHEDULE, /* exit 75 from a sensor: poke again later */
	SL_OUTCOME_FAILED,     /* any other exit code, a signal, or outputs refused */
	SL_OUTCOME_TIMEOUT,    /* stopped by its timeout */
	SL_OUTCOME_CANCELLED,  /* stopped by sl_taskexec_cancel or sl_taskexec_kill */
};

/** "success", "skipped", ... as the database stores it. */
const char *sl_outcome_name(enum sl_outcome outcome);

#endif
