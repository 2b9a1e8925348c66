/* Live updates: listening to channel sluice_events (sluice/events.h). */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/events.h"
#include "sluice/queries.h"

int sl_events_listen(struct sl_db *db, struct sl_strbuf *err)
{
	return sl_db_q(db, SL_Q_EVENTS_LISTEN, 0, NULL, NULL, err);
}

int sl_events_socket(struct sl_db *db)
{
	return PQsocket(sl_db_conn(db));
}

int sl_events_read(struct sl_db *db, struct sl_strbuf *err)
{
	PGconn *conn = sl_db_conn(db);

	if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
		sl_strbuf_addf(err, "the listening connection is gone: %s", PQerrorMessage(conn));
		while (err->len && err->buf[err->len - 1] == '\n')
			sl_strbuf_setlen(err, err->len - 1);
		return SL_EUNAVAIL;
	}
	return 0;
}

char *sl_events_next(struct sl_db *db)
{
	PGnotify *n;
	char *payload = NULL;

	while (!payload && (n = PQnotifies(sl_db_conn(db)))) {
		if (!strcmp(n->relname, "sluice_events") && n->extra)
			payload = sl_xstrdup(n->extra);
		PQfreemem(n);
	}
	return payload;
}
