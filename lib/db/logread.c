/*
 * An attempt's log out of log_chunks (sluice/logread.h), shared by `sluice
 * logs` and sluice-web's log route.
 */
#include "sluice/logread.h"

#include <libpq-fe.h>

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

int sl_log_read_all(struct sl_db *db, struct sl_log_reader *lr, struct sl_strbuf *into,
                    struct sl_strbuf *err)
{
	bool more = true;
	int rc = 0;

	while (!rc && more)
		rc = sl_log_read(db, lr, into, &more, err);
	return rc;
}
