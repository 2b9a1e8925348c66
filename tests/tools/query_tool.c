/*
 * query_tool: prepare every statement of lib/db/sql (sluice/queries.h)
 * against $SLUICE_DATABASE_URL, for tests/cli/t0011-queries.sh. Preparing
 * makes the server parse and analyse each one, so a statement that names a
 * missing table or column, or a parameter whose type cannot be inferred,
 * fails here rather than when the scheduler first runs it.
 *
 * Prints "file:line: name: message" for each statement that fails and
 * "prepared N of M statements" at the end; exit status 1 when any failed or
 * the database cannot be reached.
 */
#include <stdio.h>

#include "sluice/db.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

int main(void)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	int ok = 0;

	if (sl_db_connect(&db, NULL, &err)) {
		fprintf(stderr, "query_tool: %s\n", err.buf);
		sl_strbuf_release(&err);
		return 1;
	}
	for (int q = 0; q < SL_Q__COUNT; q++) {
		const struct sl_query_def *def = &sl_queries[q];
		PGresult *r = PQprepare(sl_db_conn(db), def->name, def->sql, def->nparams, NULL);

		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			ok++;
		else
			printf("%s:%d: %s: %s", def->file, def->line, def->name,
			       r ? PQresultErrorMessage(r) : PQerrorMessage(sl_db_conn(db)));
		PQclear(r);
	}
	printf("prepared %d of %d statements\n", ok, (int)SL_Q__COUNT);
	sl_db_free(db);
	sl_strbuf_release(&err);
	return ok == SL_Q__COUNT ? 0 : 1;
}
