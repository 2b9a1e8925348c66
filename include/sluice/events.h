#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#ifndef SLUICE_LAYER_DB
#error "sluice/events.h: this target does not link the database layer (docs/architecture.md)"
#endif

#include "sluice/db.h"
#include "sluice/strbuf.h"

/**
 * Live updates (docs/web.md, "Live updates"): every statement that changes
 * runs' or task instances' states or stores log bytes notifies channel
 * sluice_events at COMMIT (migration 0013's triggers) with a JSON object:
 *
 *     {"runs":  [{"dag","run_id","state"}, ...]}
 *     {"tasks": [{"dag","run_id","task","state","try"}, ...]}
 *     {"logs":  [{"dag","run_id","task","try","bytes"}, ...]}
 *     {"overflow": true}     (too much for one notification: read again)
 *
 * A listener owns a connection used for nothing else, polls its socket on
 * a loop and reads without blocking.
 */

/** LISTEN sluice_events on `db` (again after every reconnect). */
int sl_events_listen(struct sl_db *db, struct sl_strbuf *err);

/** The socket to poll for readability; -1 when not connected. */
int sl_events_socket(struct sl_db *db);

/**
 * Reads what the socket holds, without blocking. SL_EUNAVAIL, with a
 * sentence in `err`, when the connection is gone: the caller frees it and
 * connects again later (what was sent meanwhile is lost).
 */
int sl_events_read(struct sl_db *db, struct sl_strbuf *err);

/** The next payload read, to free(); NULL when there is none. */
char *sl_events_next(struct sl_db *db);

#endif
