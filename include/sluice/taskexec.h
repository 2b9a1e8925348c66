#ifndef SLUICE_TASKEXEC_H
#define SLUICE_TASKEXEC_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/taskexec.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "sluice/dag.h"
#include "sluice/outcome.h"
#include "sluice/strbuf.h"

/**
 * Running one task attempt on a libuv loop: `/bin/sh -c COMMAND` in its own
 * session and process group, stdin from /dev/null, stdout and stderr
 * through pipes to a callback, a timeout that stops the whole group
 * (SIGTERM, then SIGKILL after a grace period), and a completion callback
 * with the outcome and the outputs the command wrote to $SLUICE_OUTPUT.
 * Used by the worker and by `sluice test`; see docs/execution.md.
 *
 * Nothing here blocks the loop except reading the outputs file once at the
 * end, a local file of which at most SL_TASKEXEC_OUTPUT_MAX + 1 bytes are
 * read.
 */

#define SL_TASKEXEC_GRACE_DEFAULT 10    /* seconds */
#define SL_TASKEXEC_OUTPUT_MAX    65536 /* largest $SLUICE_OUTPUT accepted, bytes */

enum sl_taskexec_stream {
	SL_TASKEXEC_STDOUT = 1,
	SL_TASKEXEC_STDERR = 2,
};

/**
 * `outputs` are the `key=value` lines of $SLUICE_OUTPUT (docs/execution.md).
 * A line that is not one (no '=', a key not `[A-Za-z_][A-Za-z0-9_]*`, a NUL)
 * is ignored, counted and noted in the log. Outputs the job protocol could
 * not carry to the scheduler (include/sluice/proto.h) are refused as a
 * whole: a key longer than SL_PROTO_ID_MAX, a value that is not UTF-8, more
 * than SL_PROTO_LIST_MAX keys, or a file larger than SL_TASKEXEC_OUTPUT_MAX.
 * Then `outputs` is empty, `outputs_error` says why (the log says so too,
 * on stderr), and an outcome of success, skipped or reschedule becomes
 * failed; `exit_code` stays the command's.
 */
struct sl_taskexec_result {
	enum sl_outcome outcome;
	int exit_code;                      /* the exit status, or -1 when killed by a signal */
	int term_signal;                    /* the signal that killed the shell, or 0 */
	int64_t started_at_ms, ended_at_ms; /* wall clock, ms since the epoch */
	uint64_t duration_ms;               /* monotonic (loop time) */
	uint64_t log_bytes;                 /* bytes the command wrote, both streams */
	bool log_truncated;                 /* more than log_limit: the rest dropped */
	struct sl_kvs outputs;              /* key=value lines of $SLUICE_OUTPUT */
	char *outputs_error;                /* why the outputs were refused, or NULL */
	size_t outputs_bad_lines;           /* lines ignored: no '=', bad key */
};

struct sl_taskexec;

/**
 * Called with each chunk of output in the order it was read from that
 * stream. Across streams the order is what the pipes gave; a process that
 * interleaves the two may see them reordered. When the log limit is
 * reached, one marker line is delivered (on the stream that crossed it)
 * and nothing after it.
 */
typedef void (*sl_taskexec_log_cb)(struct sl_taskexec *te, enum sl_taskexec_stream stream,
                                   const char *buf, size_t len, void *data);
/**
 * Called once, after the shell has exited, both pipes are closed and every
 * libuv handle of the attempt is closed. `result` (and `te`) are freed when
 * it returns; take `result->outputs` and `result->outputs_error` by copying
 * or by moving them and zeroing the fields.
 */
typedef void (*sl_taskexec_done_cb)(struct sl_taskexec *te, struct sl_taskexec_result *result,
                                    void *data);

/**
 * Another user to run the command as (the worker's `task_user`,
 * docs/worker.md): uv_spawn's child drops its supplementary groups, then
 * takes `gid` and `uid` before it runs the shell. The caller needs the
 * right to (root, or CAP_SETUID and CAP_SETGID), and CAP_KILL to stop the
 * group afterwards; it must have cleared its ambient capabilities
 * (sluice/privs.h) or the command inherits them. The $SLUICE_OUTPUT file is
 * then created with group `gid` and mode 0660, so that the command can
 * write it and the caller, its owner, read it.
 */
struct sl_taskexec_user {
	uid_t uid;
	gid_t gid;
};

struct sl_taskexec_opts {
	const char *command;    /* already expanded (sl_taskenv_expand) */
	const char *cwd;        /* NULL = the caller's */
	char **env;             /* NULL-terminated NAME=value; NULL = empty */
	uint64_t timeout;       /* seconds; 0 = none */
	uint64_t grace;         /* seconds between SIGTERM and SIGKILL; 0 = default */
	size_t log_limit;       /* bytes delivered to on_log; 0 = no limit */
	bool sensor;            /* exit 75 means reschedule */
	const char *output_dir; /* where the $SLUICE_OUTPUT file goes; NULL = no file */
	const struct sl_taskexec_user *user; /* NULL: the caller's own user */
	sl_taskexec_log_cb on_log;           /* may be NULL */
	sl_taskexec_done_cb on_done;
	void *data;
};

/**
 * Start an attempt. On success `*out` is the running attempt (owned by the
 * library until on_done returns) and 0 is returned. On failure (the shell
 * or the cwd cannot be used, the user cannot be taken, the output file
 * cannot be created) a negative
 * code is returned with a sentence in `err`, on_done is never called, and
 * the few handles already initialised are closed on the loop's next turn.
 */
int sl_taskexec_start(uv_loop_t *loop, const struct sl_taskexec_opts *opts,
                      struct sl_taskexec **out, struct sl_strbuf *err);

/**
 * Stop the attempt: SIGTERM to its process group, SIGKILL after the grace
 * period. The outcome becomes SL_OUTCOME_CANCELLED; on_done still comes
 * once everything has exited. Does nothing when it has already exited or
 * been cancelled or timed out. Must not be called after on_done.
 */
void sl_taskexec_cancel(struct sl_taskexec *te);

/**
 * Stop the attempt now: SIGKILL to its whole process group, no grace (the
 * worker fencing itself off, when every moment the task runs on is a
 * moment it may run twice). The outcome becomes SL_OUTCOME_CANCELLED
 * unless the shell had already exited; on_done still comes once. Must not
 * be called after on_done.
 */
void sl_taskexec_kill(struct sl_taskexec *te);

/** The shell's pid (also its process group id). */
int sl_taskexec_pid(const struct sl_taskexec *te);

#endif
