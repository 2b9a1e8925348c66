/*
 * The read routes the UI's other pages need beyond the CLI's views that
 * already had one (docs/web.md, "The UI"): the load errors at the current
 * commit, as `sluice dags errors --json` lists them.
 */
#include "sluice/dags_list.h"
#include "sluice/views.h"
#include "web.h"

/* GET /api/v1/load-errors: `sluice dags errors --json` (sluice/dags_list.h). */
void web_api_load_errors(struct web_call *c, struct sl_db *db)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_rows *res = NULL;

	if (sl_view_load_errors(db, &res, &err))
		web_db_failed(c, "load_errors", &err);
	else
		web_json(c, 200, sl_load_errors_json(res));
	sl_rows_free(res);
	sl_strbuf_release(&err);
}
