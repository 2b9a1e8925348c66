#ifndef SLUICE_OUTCOME_H
#define SLUICE_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

/**
 * How an attempt ended, in one vocabulary for the task runner
 * (sl_taskexec), the job protocol (a RESULT's "outcome"), the retry rules
 * (sl_rules_after_attempt), the engine and the database. A header of its
 * own, with no dependency, so that the rules and the database core need
 * not include the process runner (and libuv) for one enum. It becomes text
 * in one place, sl_outcome_name, and is read back by sl_outcome_parse.
 *
 * 0 is no outcome, so that a message or result nobody filled in is refused
 * rather than taken for a success.
 */
enum sl_outcome {
	SL_OUTCOME_SUCCESS = 1, /* exit 0 */
	SL_OUTCOME_SKIPPED,     /* exit 99 */
	SL_OUTCOME_RESCHEDULE,  /* exit 75 from a sensor: poke again later */
	SL_OUTCOME_FAILED,      /* any other exit code, a signal, or outputs refused */
	SL_OUTCOME_TIMEOUT,     /* stopped by its timeout */
	SL_OUTCOME_CANCELLED,   /* stopped by sl_taskexec_cancel or sl_taskexec_kill */
	/*
	 * The worker killed it itself, cut off from every scheduler for longer
	 * than its lease (docs/reliability.md). Only a worker reports it; the
	 * rules judge it as a failure.
	 */
	SL_OUTCOME_LOST,
};

/** "success", "skipped", ..., "lost": as the protocol and the database
 * spell it; "unknown" for a value that is not an outcome. */
const char *sl_outcome_name(enum sl_outcome outcome);
/** True when `outcome` is one of the values above. */
bool sl_outcome_valid(enum sl_outcome outcome);
/** The outcome named by the `len` bytes at `name`; false when none is. */
bool sl_outcome_parse(const char *name, size_t len, enum sl_outcome *out);

#endif
