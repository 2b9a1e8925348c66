/*
 * An attempt's log out of log_chunks (sluice/logread.h), shared by `sluice
 * logs` and sluice-web's log route.
 */
#include "sluice/logread.h"

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/views.h"
#include "sluice/banned.h"

/* tasks_log_chunks returns this many chunks at most (lib/db/sql/tasks.sql). */
enum { LOG_BATCH = 64 };

int sl_log_read(struct sl_db *db, struct sl_log_reader *lr, struct sl_strbuf *into, bool *more,
                struct sl_strbuf *err)
{
	struct sl_rows *r = NULL;
	int rc = sl_view_log_chunks(db, lr->attempt, lr->next_seq, &r, err);

	if (rc)
		return rc;
	*more = false;
	lr->ended = sl_rows_nr(r) > 0 && sl_rows_bool(r, 0, 0);
	for (int i = 0; i < sl_rows_nr(r) && !sl_rows_null(r, i, 1); i++) {
		long s = (long)sl_rows_int(r, i, 1, 0);
		unsigned char *data;
		size_t len;

		if (s != lr->next_seq && !lr->ended)
			break;
		data = PQunescapeBytea((const unsigned char *)sl_rows_value(r, i, 2), &len);
		if (!data) {
			sl_strbuf_adds(err, "out of memory decoding a log chunk");
			rc = SL_ERR;
			break;
		}
		sl_strbuf_add(into, data, len);
		PQfreemem(data);
		lr->next_seq = s + 1;
		*more = i + 1 == LOG_BATCH;
	}
	sl_rows_free(r);
	return rc;
}

int sl_log_index_load(struct sl_db *db, const char *attempt_id, struct sl_log_index *ix,
                      struct sl_strbuf *err)
{
	struct sl_rows *r = NULL;
	bool ended;
	int rc = sl_view_log_index(db, attempt_id, &r, err);

	if (rc)
		return rc;
	snprintf(ix->attempt, sizeof(ix->attempt), "%s", attempt_id);
	ix->nr = 0;
	ix->len = 0;
	ended = sl_rows_nr(r) > 0 && sl_rows_bool(r, 0, 0);
	for (int i = 0; i < sl_rows_nr(r) && !sl_rows_null(r, i, 1); i++) {
		long seq = (long)sl_rows_int(r, i, 1, 0);

		/* As sl_log_read: a gap ends what a running attempt has to show. */
		if (!ended && seq != (ix->nr ? ix->chunks[ix->nr - 1].seq + 1 : 0))
			break;
		SL_ALLOC_GROW(ix->chunks, ix->nr + 1, ix->alloc);
		ix->chunks[ix->nr++] = (struct sl_log_chunk){seq, ix->len};
		ix->len += (uint64_t)sl_rows_int(r, i, 2, 0);
	}
	sl_rows_free(r);
	return 0;
}

void sl_log_index_release(struct sl_log_index *ix)
{
	free(ix->chunks);
	*ix = (struct sl_log_index)SL_LOG_INDEX_INIT;
}

/* The chunk holding byte `at` of the indexed log (at < ix->len). */
static size_t chunk_of(const struct sl_log_index *ix, uint64_t at)
{
	size_t lo = 0, hi = ix->nr;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->chunks[mid].start <= at)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int sl_log_read_range(struct sl_db *db, const struct sl_log_index *ix, uint64_t first,
                      uint64_t last, struct sl_strbuf *into, struct sl_strbuf *err)
{
	size_t a = chunk_of(ix, first), b = chunk_of(ix, last);
	struct sl_rows *r = NULL;
	int rc =
	    sl_view_log_chunk_span(db, ix->attempt, ix->chunks[a].seq, ix->chunks[b].seq, &r, err);

	if (rc)
		return rc;
	for (size_t k = a; k <= b; k++) {
		int i = (int)(k - a);
		unsigned char *data;
		size_t len;
		uint64_t from, to;

		if (i >= sl_rows_nr(r) || sl_rows_int(r, i, 0, -1) != ix->chunks[k].seq) {
			sl_strbuf_addf(err, "the log of attempt %s changed while it was read",
			               ix->attempt);
			rc = SL_EUNAVAIL;
			break;
		}
		data = PQunescapeBytea((const unsigned char *)sl_rows_value(r, i, 1), &len);
		if (!data) {
			sl_strbuf_adds(err, "out of memory decoding a log chunk");
			rc = SL_ERR;
			break;
		}
		/* The part of this chunk inside [first, last]. */
		from = first > ix->chunks[k].start ? first - ix->chunks[k].start : 0;
		to = last - ix->chunks[k].start + 1 < len ? last - ix->chunks[k].start + 1 : len;
		if (from < to)
			sl_strbuf_add(into, data + from, (size_t)(to - from));
		PQfreemem(data);
	}
	sl_rows_free(r);
	return rc;
}
