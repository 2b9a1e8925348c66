#ifndef SLUICE_LOGREAD_H
#define SLUICE_LOGREAD_H

#ifndef SLUICE_LAYER_DB
#error "sluice/logread.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stdint.h>

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

/**
 * Where each chunk of an attempt's log starts, for reading any byte range
 * of it without reading what comes before: the readable chunks (as
 * sl_log_read would return them: up to the first gap while the attempt
 * runs) and `len`, the bytes they hold.
 */
struct sl_log_index {
	char attempt[24];
	struct sl_log_chunk {
		long seq;
		uint64_t start; /* the offset of its first byte in the log */
	} * chunks;
	size_t nr, alloc;
	uint64_t len;
};

#define SL_LOG_INDEX_INIT         \
	{                         \
		"", NULL, 0, 0, 0 \
	}

/** Index the log of attempt `attempt_id` as it is now (one statement, no log bytes read). */
int sl_log_index_load(struct sl_db *db, const char *attempt_id, struct sl_log_index *ix,
                      struct sl_strbuf *err);
void sl_log_index_release(struct sl_log_index *ix);

/**
 * Appends bytes `first` to `last` (inclusive, within ix->len) of the
 * indexed log to `into`, reading only the chunks that hold them.
 * SL_EUNAVAIL when chunks went away since the index was made (deleted by
 * retention): the caller may index again.
 */
int sl_log_read_range(struct sl_db *db, const struct sl_log_index *ix, uint64_t first,
                      uint64_t last, struct sl_strbuf *into, struct sl_strbuf *err);

#endif
