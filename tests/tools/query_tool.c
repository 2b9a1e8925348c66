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
 *
 * `query_tool login NAME` checks the first line of stdin as user NAME's
 * password (sl_user_check_password: libsodium's crypto_pwhash_str_verify
 * against the stored argon2id string), as the web daemon's login will:
 * prints the role and exits 0 when it matches, exits 1 when not.
 *
 * `query_tool words` checks instead, with no database, that every quoted
 * word in a statement is a name the C code knows: a state, an outcome, or
 * one of the few other vocabularies below (`query_tool words -` checks one
 * statement read from stdin, so that the test can show a typo is caught). State names are literals
 * in the SQL (an index predicate must be able to see them); this keeps a typo such as 'runing',
 * which the server would accept and never match, out of it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sluice/accounts.h"
#include "sluice/db.h"
#include "sluice/outcome.h"
#include "sluice/rules.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

/* The vocabularies of the schema's CHECK constraints that have no C enum,
 * and the words that are not a vocabulary at all. */
static const char *const other_words[] = {
    "active",
    "draining",
    "gone", /* workers.state */
    "scheduled",
    "manual",
    "backfill", /* runs.run_type */
    "task",
    "callback",          /* task_instances.kind */
    "default",           /* the default queue */
    "sluice",            /* the NOTIFY channel */
    "refresh",           /* a NOTIFY payload */
    "hex",               /* encode() */
    "schema_migrations", /* to_regclass() */
    "tasks",             /* the definition's task list (dag_json.h) */
    "own",
    "shared",
    "revoked", /* `workers list`'s credential column (credentials.h) */
    "cancel",
    "clear",
    "mark",   /* runs_tries: the operator command that stopped an attempt */
    "latest", /* runs_latest: the run id alias */
    "web",    /* audit_log.via */
    "login",
    "logout", /* the audit actions of sessions.sql */
};

static bool known_word(const char *w, size_t len)
{
	char buf[64];
	enum sl_outcome o;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, w, len);
	buf[len] = '\0';
	for (int s = SL_TASK_PENDING; s <= SL_TASK_REMOVED; s++)
		if (!strcmp(buf, sl_task_state_name((enum sl_task_state)s)))
			return true;
	for (int s = SL_RUN_QUEUED; s <= SL_RUN_CANCELLED; s++)
		if (!strcmp(buf, sl_run_state_name((enum sl_run_state)s)))
			return true;
	if (sl_outcome_parse(buf, len, &o))
		return true;
	for (size_t i = 0; i < sizeof(other_words) / sizeof(other_words[0]); i++)
		if (!strcmp(buf, other_words[i]))
			return true;
	return false;
}

/* Every '...' of lower-case letters and underscores in `sql`; comments and
 * other literals (formats, blanks) are not vocabulary. */
static int check_words(const struct sl_query_def *def)
{
	int bad = 0;

	for (const char *p = def->sql; (p = strchr(p, '\'')); p++) {
		const char *w = p + 1, *e = w;

		while (*e == '_' || islower((unsigned char)*e))
			e++;
		if (*e != '\'') {
			p = strchr(w, '\'');
			if (!p)
				break;
			continue;
		}
		if (e > w && !known_word(w, (size_t)(e - w))) {
			printf("%s:%d: %s: '%.*s' is no state, outcome or known word\n", def->file,
			       def->line, def->name, (int)(e - w), w);
			bad++;
		}
		p = e;
	}
	return bad;
}

static int words(void)
{
	int bad = 0;

	for (int q = 0; q < SL_Q__COUNT; q++)
		bad += check_words(&sl_queries[q]);
	printf("%d unknown words in %d statements\n", bad, (int)SL_Q__COUNT);
	return bad ? 1 : 0;
}

static int words_stdin(void)
{
	struct sl_strbuf text = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_query_def def = {.name = "stdin", .file = "-", .line = 1};
	int bad;

	if (sl_strbuf_read_file(&text, "/dev/stdin", 1 << 20, &err) < 0) {
		fprintf(stderr, "query_tool: %s\n", err.buf);
		sl_strbuf_release(&err);
		return 2;
	}
	def.sql = text.buf;
	bad = check_words(&def);
	sl_strbuf_release(&text);
	return bad ? 1 : 0;
}

static int login(const char *name)
{
	struct sl_strbuf pw = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	enum sl_role role = SL_ROLE_VIEWER;
	bool ok = false;
	int c, rc = 2;

	while ((c = getchar()) != EOF && c != '\n')
		sl_strbuf_addch(&pw, c);
	if (sl_db_connect(&db, NULL, &err) ||
	    sl_user_check_password(db, name, pw.buf ? pw.buf : "", pw.len, &ok, &role, &err)) {
		fprintf(stderr, "query_tool: %s\n", err.buf);
		goto out;
	}
	if (ok)
		printf("%s\n", sl_role_name(role));
	rc = ok ? 0 : 1;
out:
	sl_db_free(db);
	sl_strbuf_release(&pw);
	sl_strbuf_release(&err);
	return rc;
}

int main(int argc, char **argv)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	int ok = 0;

	if (argc == 3 && !strcmp(argv[1], "words") && !strcmp(argv[2], "-"))
		return words_stdin();
	if (argc == 2 && !strcmp(argv[1], "words"))
		return words();
	if (argc == 3 && !strcmp(argv[1], "login"))
		return login(argv[2]);
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
