#ifndef SLUICE_LOGREAD_H
#define SLUICE_LOGREAD_H

#ifndef SLUICE_LAYER_DB
#error "sluice/logread.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * An attempt's log as the scheduler stored it, chunk by chunk (log_chunks),
 * for `sluice logs` and the API's log route alike. Chunks are read in seq
 * order; a gap (a chunk whose transaction has not committed yet) ends a
 * read, unless the attempt has ended, when every chunk it wrote is there.
 */
struct sl_log_reader {
	char attempt[24]; /* the attempt's id, as text */
	long next_seq;
	bool ended; /* the attempt had ended when the last batch was read */
};

/**
 * Appends the next batch of chunks to `into`. `*more` says that a full
 * batch came: read again at once.
 */
int sl_log_read(struct sl_db *db, struct sl_log_reader *lr, struct sl_strbuf *into, bool *more,
                struct sl_strbuf *err);

/** Appends every chunk there is now (batches until one is short). */
int sl_log_read_all(struct sl_db *db, struct sl_log_reader *lr, struct sl_strbuf *into,
                    struct sl_strbuf *err);

#endif
