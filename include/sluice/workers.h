#ifndef SLUICE_WORKERS_H
#define SLUICE_WORKERS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/workers.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stddef.h>
#include <stdint.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * Workers in PostgreSQL as the scheduler records them (lib/db/sql/
 * workers.sql): a worker's registration, the workers that went silent,
 * which live attempts an operator ended meanwhile, and which attempts are a
 * worker's own. Each function is one
 * statement that may safely run twice (sl_db_q_idempotent). Errors are the
 * sl_db codes with one sentence in `err`.
 */

/** What a worker says of itself when it connects (its HELLO). */
struct sl_worker_hello {
	const char *worker_id;
	const char *host;
	const char *const *queues;
	size_t queues_nr;
	uint32_t slots;
	int version; /* of the protocol */
};

/** Record the worker as active from now, with what it serves. */
int sl_worker_register(struct sl_db *db, const struct sl_worker_hello *w, struct sl_strbuf *err);

/** Worker ids, owned. */
struct sl_worker_ids {
	char **items;
	size_t nr, alloc;
};

#define SL_WORKER_IDS_INIT \
	{                  \
		NULL, 0, 0 \
	}

void sl_worker_ids_release(struct sl_worker_ids *ids);

/**
 * The workers not yet gone whose last heartbeat is older than `timeout_s`
 * seconds, by id, at most 100 (call again for more). `out` is replaced.
 */
int sl_workers_silent(struct sl_db *db, int64_t timeout_s, struct sl_worker_ids *out,
                      struct sl_strbuf *err);

/**
 * Set the worker gone, unless it sent a heartbeat within `timeout_s` since
 * sl_workers_silent found it.
 */
int sl_worker_set_gone(struct sl_db *db, const char *worker_id, int64_t timeout_s,
                       struct sl_strbuf *err);

/** An attempt that has ended, and the fencing token it was given. */
struct sl_attempt_fence {
	int64_t attempt_id;
	int64_t fence;
};

/**
 * Which of the attempts `ids` have ended (an operator cancelled them, or
 * their task was cleared or marked). `*out` (free it) receives `*out_nr`
 * of them; NULL when none.
 */
int sl_attempts_ended(struct sl_db *db, const int64_t *ids, size_t nr,
                      struct sl_attempt_fence **out, size_t *out_nr, struct sl_strbuf *err);

/**
 * Which of the attempts `ids` were dispatched to `worker_id`, in any state
 * (with their fencing tokens): a HELLO's list of what the worker runs
 * speaks for those only. `*out` (free it) receives `*out_nr` of them; NULL when
 * none.
 */
int sl_worker_owned_attempts(struct sl_db *db, const char *worker_id, const int64_t *ids, size_t nr,
                             struct sl_attempt_fence **out, size_t *out_nr, struct sl_strbuf *err);

/**
 * Forget worker `worker_id` for good (`sluice workers delete`): its row in
 * `workers` goes; its attempts keep its name, and its credential, if any,
 * is left as it is. Refused with SL_ERR and a sentence saying why while the
 * worker is not `gone` (it is connected, or its heartbeat_timeout has not
 * passed) or holds attempts that are live or may still be running;
 * SL_ENOENT when there is no such worker.
 */
int sl_worker_delete(struct sl_db *db, const char *worker_id, struct sl_strbuf *err);

#endif
