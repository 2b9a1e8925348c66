/*
 * PostgreSQL access through libpq: connection, parameterised statements,
 * transactions with retries, and the schema migrations.
 */
#include "sluice/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/banned.h"

struct sl_db {
	PGconn *conn;
	char *where;
	char *dbname;
	char server_version[32];
	char sqlstate[6];
	unsigned long reconnects;
	uint64_t commits; /* COMMITs that committed, for the daemons' metrics */
	/* Per statement, `reconnects + 1` of the session it was prepared on (0:
	 * never): a reconnect makes every earlier mark stale at once. */
	unsigned long prepared[SL_Q__COUNT];
	/* sl_db_set_fence: NULL when transactions are not fenced. */
	char *fence_holder;
	char fence_epoch[24];
};

enum {
	/* Transactions aborted by a serialization failure or a deadlock. */
	TX_CONFLICT_RETRIES = 3,
};

static void add_err(struct sl_strbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_err(struct sl_strbuf *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	sl_strbuf_vaddf(err, fmt, ap);
	va_end(ap);
}

static size_t err_mark(const struct sl_strbuf *err)
{
	return err ? err->len : 0;
}

static void err_reset(struct sl_strbuf *err, size_t mark)
{
	if (err)
		sl_strbuf_setlen(err, mark);
}

/*
 * libpq's messages span lines: 'connection to server on socket "/x/.s.PGSQL.5432"
 * failed: No such file or directory\n\tIs the server running locally ...?\n'.
 * Keep the first line without the "connection to server ... failed:" part
 * (sl_db_where already says where) and without a severity prefix, and add an
 * indented hint line in parentheses, lower-cased: one line in all.
 */
static void add_pq_message(struct sl_strbuf *err, const char *msg)
{
	const char *p = msg ? msg : "", *end, *hint = NULL;

	if (!err)
		return;
	if (!strncmp(p, "connection to server ", 21)) {
		const char *f = strstr(p, " failed: ");
		const char *nl = strchr(p, '\n');

		if (f && (!nl || f < nl))
			p = f + 9;
	}
	if (!strncmp(p, "FATAL:  ", 8) || !strncmp(p, "ERROR:  ", 8))
		p += 8;
	end = p + strcspn(p, "\n");
	if (*end == '\n' && end[1] == '\t')
		hint = end + 2;
	while (end > p && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	if (end == p)
		sl_strbuf_adds(err, "unknown error");
	else
		sl_strbuf_add(err, p, (size_t)(end - p));
	if (hint) {
		size_t len = strcspn(hint, "\n");

		if (len > 1) {
			sl_strbuf_adds(err, " (");
			sl_strbuf_addch(err,
			                hint[0] >= 'A' && hint[0] <= 'Z' ? hint[0] + 32 : hint[0]);
			sl_strbuf_add(err, hint + 1, len - 1);
			sl_strbuf_addch(err, ')');
		}
	}
}

static void set_where(struct sl_db *db)
{
	const char *host = PQhost(db->conn), *port = PQport(db->conn), *name = PQdb(db->conn);

	free(db->where);
	free(db->dbname);
	db->where = sl_xasprintf("%s:%s", host && *host ? host : "localhost",
	                         port && *port ? port : "5432");
	db->dbname = sl_xstrdup(name ? name : "");
}

static void set_server_version(struct sl_db *db)
{
	int v = PQserverVersion(db->conn);

	if (v >= 100000)
		snprintf(db->server_version, sizeof(db->server_version), "%d.%d", v / 10000,
		         v % 10000);
	else
		snprintf(db->server_version, sizeof(db->server_version), "%d.%d.%d", v / 10000,
		         v / 100 % 100, v % 100);
}

/* Library code does not print: the server's NOTICEs and WARNINGs are dropped.
 * A caller that wants them installs its own receiver on sl_db_conn(). */
static void drop_notice(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

static bool looks_like_conninfo(const char *s)
{
	return strchr(s, '=') || !strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13);
}

/* `timeout`: libpq's connect_timeout, forced over the string's; NULL for
 * the default of 10 seconds that the string or PGCONNECT_TIMEOUT may change. */
static int connect_params(struct sl_db **out, const char *conninfo, const char *options,
                          const char *timeout, struct sl_strbuf *err)
{
	const char *keys[6], *values[6];
	const char *source = "the database URL";
	struct sl_db *db = NULL;
	int n = 0;

	*out = NULL;
	if (!conninfo || !*conninfo) {
		conninfo = getenv("SLUICE_DATABASE_URL");
		source = "SLUICE_DATABASE_URL";
		if (conninfo && !*conninfo)
			conninfo = NULL;
	}
	/* Reject a malformed string before connecting, so that it is reported
	 * as what it is (without echoing it: it may hold a password). A string
	 * without '=' or a scheme is a database name, as in psql. */
	if (conninfo && looks_like_conninfo(conninfo)) {
		char *msg = NULL;
		PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);

		if (!opts) {
			add_err(err, "invalid connection string in %s: ", source);
			add_pq_message(err, msg ? msg : "out of memory");
			PQfreemem(msg);
			return SL_EINVAL;
		}
		PQconninfoFree(opts);
	}

	keys[n] = "fallback_application_name";
	values[n++] = "sluice";
	/* Without a timeout, an unreachable TCP host hangs for minutes.
	 * A timeout in the string or in PGCONNECT_TIMEOUT still wins. */
	if (!timeout && !getenv("PGCONNECT_TIMEOUT")) {
		keys[n] = "connect_timeout";
		values[n++] = "10";
	}
	/* Before the string: its own `options`, if any, win. */
	if (options) {
		keys[n] = "options";
		values[n++] = options;
	}
	if (conninfo) {
		keys[n] = "dbname";
		values[n++] = conninfo;
	}
	/* After the string, which libpq expands in place: this one wins. */
	if (timeout) {
		keys[n] = "connect_timeout";
		values[n++] = timeout;
	}
	keys[n] = values[n] = NULL;

	db = sl_xcalloc(1, sizeof(*db));
	db->conn = PQconnectdbParams(keys, values, 1);
	if (!db->conn) {
		add_err(err, "cannot connect to PostgreSQL: out of memory");
		goto fail;
	}
	PQsetNoticeReceiver(db->conn, drop_notice, NULL);
	set_where(db);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		add_err(err, "cannot connect to PostgreSQL at %s: ", db->where);
		add_pq_message(err, PQerrorMessage(db->conn));
		goto fail;
	}
	set_server_version(db);
	*out = db;
	return 0;
fail:
	sl_db_free(db);
	return SL_EUNAVAIL;
}

int sl_db_connect(struct sl_db **out, const char *conninfo, struct sl_strbuf *err)
{
	return connect_params(out, conninfo, NULL, NULL, err);
}

int sl_db_connect_session(struct sl_db **out, const char *conninfo, const char *options,
                          struct sl_strbuf *err)
{
	return connect_params(out, conninfo, options, NULL, err);
}

int sl_db_connect_quick(struct sl_db **out, const char *conninfo, struct sl_strbuf *err)
{
	/* A statement waiting on a lock (a migration holding one) gives up too. */
	return connect_params(out, conninfo, "-c statement_timeout=1000", "1", err);
}

void sl_db_free(struct sl_db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->where);
	free(db->dbname);
	free(db->fence_holder);
	free(db);
}

const char *sl_db_where(const struct sl_db *db)
{
	return db->where;
}

const char *sl_db_name(const struct sl_db *db)
{
	return db->dbname;
}

const char *sl_db_server_version(const struct sl_db *db)
{
	return db->server_version;
}

PGconn *sl_db_conn(struct sl_db *db)
{
	return db->conn;
}

const char *sl_db_sqlstate(const struct sl_db *db)
{
	return db->sqlstate;
}

uint64_t sl_db_commits(const struct sl_db *db)
{
	return db->commits;
}

unsigned long sl_db_reconnects(const struct sl_db *db)
{
	return db->reconnects;
}

bool sl_db_in_transaction(const struct sl_db *db)
{
	PGTransactionStatusType t = PQtransactionStatus(db->conn);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* Re-establish a broken connection; nothing may be pending on it. */
static int ensure_connected(struct sl_db *db, struct sl_strbuf *err)
{
	if (PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		add_err(err, "cannot connect to PostgreSQL at %s: ", db->where);
		add_pq_message(err, PQerrorMessage(db->conn));
		return SL_EUNAVAIL;
	}
	db->reconnects++;
	set_server_version(db);
	return 0;
}

/*
 * Whether a failed statement failed because the server went away: the
 * connection is broken, or the server said it is shutting down (class 08
 * connection exceptions; 57P01-57P03 admin, crash shutdown, not yet up).
 */
static bool connection_lost(struct sl_db *db, const char *sqlstate)
{
	if (PQstatus(db->conn) != CONNECTION_OK)
		return true;
	return sqlstate && (!strncmp(sqlstate, "08", 2) || !strcmp(sqlstate, "57P01") ||
	                    !strcmp(sqlstate, "57P02") || !strcmp(sqlstate, "57P03"));
}

static void add_result_error(struct sl_strbuf *err, const PGresult *r, PGconn *conn)
{
	const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (!err)
		return;
	if (!primary) {
		add_pq_message(err, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
		return;
	}
	add_pq_message(err, primary);
	if (detail) {
		sl_strbuf_adds(err, " (");
		add_pq_message(err, detail);
		sl_strbuf_addch(err, ')');
	}
}

/* Classify a finished statement; frees or hands over `r`. */
static int finish(struct sl_db *db, PGresult *r, PGresult **res, struct sl_strbuf *err)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	const char *sqlstate;

	db->sqlstate[0] = '\0';
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	sqlstate = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (sqlstate)
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", sqlstate);
	if (connection_lost(db, sqlstate)) {
		add_err(err, "lost the connection to PostgreSQL at %s: ", db->where);
		add_result_error(err, r, db->conn);
		PQclear(r);
		return SL_EUNAVAIL;
	}
	if (r && st != PGRES_FATAL_ERROR && st != PGRES_NONFATAL_ERROR)
		add_err(err, "unexpected result from PostgreSQL: %s", PQresStatus(st));
	else
		add_result_error(err, r, db->conn);
	PQclear(r);
	return SL_ERR;
}

/*
 * Run a statement of lib/db/sql, prepared once per session under its own
 * name and executed by name after: the daemons run the same few statements
 * thousands of times, and planning them each time was most of PostgreSQL's
 * CPU per task. A reconnect starts a new session, which has none prepared.
 */
static PGresult *run_query(struct sl_db *db, enum sl_query q, const char *const *params)
{
	const struct sl_query_def *def = &sl_queries[q];

	if (db->prepared[q] != db->reconnects + 1) {
		PGresult *r = PQprepare(db->conn, def->name, def->sql, def->nparams, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return r;
		PQclear(r);
		db->prepared[q] = db->reconnects + 1;
	}
	return PQexecPrepared(db->conn, def->name, def->nparams, params, NULL, NULL, 0);
}

/*
 * A statement to run: one of lib/db/sql, or `control`: BEGIN or COMMIT,
 * the transaction protocol this file is built on rather than a query. They
 * carry no values and have no plan worth keeping.
 */
struct stmt {
	enum sl_query q;
	const char *control;
	const char *const *params;
};

static PGresult *run_stmt(struct sl_db *db, const struct stmt *s)
{
	if (s->control)
		return PQexecParams(db->conn, s->control, 0, NULL, NULL, NULL, NULL, 0);
	return run_query(db, s->q, s->params);
}

static int exec_stmt(struct sl_db *db, bool idempotent, const struct stmt *s, PGresult **res,
                     struct sl_strbuf *err)
{
	bool in_tx = sl_db_in_transaction(db);
	size_t mark = err_mark(err);
	int rc;

	if (res)
		*res = NULL;
	/* Reconnecting inside a transaction would silently drop its earlier
	 * statements; only the transaction as a whole can be retried. */
	if (!in_tx) {
		rc = ensure_connected(db, err);
		if (rc)
			return rc;
	}
	rc = finish(db, run_stmt(db, s), res, err);
	if (rc == SL_EUNAVAIL && idempotent && !in_tx) {
		err_reset(err, mark);
		rc = ensure_connected(db, err);
		if (rc)
			return rc;
		rc = finish(db, run_stmt(db, s), res, err);
	}
	return rc;
}

static int exec_control(struct sl_db *db, bool idempotent, const char *control, PGresult **res,
                        struct sl_strbuf *err)
{
	const struct stmt s = {SL_Q__COUNT, control, NULL};

	return exec_stmt(db, idempotent, &s, res, err);
}

static int exec_query(struct sl_db *db, bool idempotent, enum sl_query q, int nparams,
                      const char *const *params, PGresult **res, struct sl_strbuf *err)
{
	const struct stmt s = {q, NULL, params};

	if (res)
		*res = NULL;
	if ((unsigned)q >= SL_Q__COUNT || nparams != sl_queries[q].nparams) {
		add_err(err, "BUG: statement %d run with %d parameters", (int)q, nparams);
		return SL_ERR;
	}
	return exec_stmt(db, idempotent, &s, res, err);
}

int sl_db_q(struct sl_db *db, enum sl_query q, int nparams, const char *const *params,
            PGresult **res, struct sl_strbuf *err)
{
	return exec_query(db, false, q, nparams, params, res, err);
}

int sl_db_q_idempotent(struct sl_db *db, enum sl_query q, int nparams, const char *const *params,
                       PGresult **res, struct sl_strbuf *err)
{
	return exec_query(db, true, q, nparams, params, res, err);
}

int sl_db_begin(struct sl_db *db, struct sl_strbuf *err)
{
	if (sl_db_in_transaction(db)) {
		add_err(err, "BUG: sl_db_begin inside a transaction");
		return SL_ERR;
	}
	return exec_control(db, true, "BEGIN", NULL, err);
}

int sl_db_commit(struct sl_db *db, struct sl_strbuf *err)
{
	PGresult *r = NULL;
	int rc = exec_control(db, false, "COMMIT", &r, err);

	/* COMMIT of a transaction in which a statement failed "succeeds" with
	 * the tag ROLLBACK: that must not look like a commit. */
	if (!rc && !strcmp(PQcmdStatus(r), "ROLLBACK")) {
		add_err(err, "the transaction was rolled back after an earlier error");
		rc = SL_ERR;
	}
	if (!rc)
		db->commits++;
	PQclear(r);
	return rc;
}

void sl_db_rollback(struct sl_db *db)
{
	if (PQstatus(db->conn) != CONNECTION_OK || !sl_db_in_transaction(db))
		return;
	/* A failure leaves the connection broken, which ends the transaction
	 * on the server as surely as ROLLBACK does. */
	PQclear(PQexecParams(db->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
}

static bool is_conflict(const char *sqlstate)
{
	return !strcmp(sqlstate, "40001") || !strcmp(sqlstate, "40P01");
}

void sl_db_set_fence(struct sl_db *db, const char *holder, long long epoch)
{
	free(db->fence_holder);
	db->fence_holder = holder ? sl_xstrdup(holder) : NULL;
	snprintf(db->fence_epoch, sizeof(db->fence_epoch), "%lld", epoch);
}

/*
 * Run just before COMMIT (db_fence in lib/db/sql/db.sql says how), so that
 * the check and the commit are one atomic step in the lease's history.
 */

static int check_fence(struct sl_db *db, struct sl_strbuf *err)
{
	const char *params[2] = {db->fence_holder, db->fence_epoch};
	PGresult *r = NULL;
	int rc;

	if (!db->fence_holder)
		return 0;
	rc = sl_db_q(db, SL_Q_DB_FENCE, 2, params, &r, err);
	if (!rc && (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "t"))) {
		add_err(err,
		        "this scheduler no longer holds the leader lease (epoch %s): "
		        "the write was refused",
		        db->fence_epoch);
		rc = SL_EFENCED;
	}
	PQclear(r);
	return rc;
}

int sl_db_transaction(struct sl_db *db, unsigned flags,
                      int (*fn)(struct sl_db *db, void *ctx, struct sl_strbuf *err), void *ctx,
                      struct sl_strbuf *err)
{
	size_t mark = err_mark(err);
	int conflicts = 0;
	bool reconnected = false;

	for (;;) {
		bool commit_sent = false;
		char sqlstate[sizeof(db->sqlstate)];
		int rc;

		err_reset(err, mark);
		rc = sl_db_begin(db, err);
		if (!rc) {
			rc = fn(db, ctx, err);
			if (!rc)
				rc = check_fence(db, err);
			if (!rc) {
				commit_sent = true;
				rc = sl_db_commit(db, err);
			}
		}
		if (!rc)
			return 0;
		memcpy(sqlstate, db->sqlstate, sizeof(sqlstate));
		sl_db_rollback(db);
		if (rc == SL_EUNAVAIL && !reconnected &&
		    (!commit_sent || (flags & SL_DB_TX_IDEMPOTENT))) {
			reconnected = true;
			continue;
		}
		if (is_conflict(sqlstate) && conflicts++ < TX_CONFLICT_RETRIES)
			continue;
		if (rc == SL_EUNAVAIL && commit_sent && !(flags & SL_DB_TX_IDEMPOTENT))
			add_err(err, " (the transaction may or may not have been committed)");
		return rc;
	}
}

void sl_db_status_release(struct sl_db_status *st)
{
	for (size_t i = 0; i < st->applied_nr; i++) {
		free(st->applied[i].name);
		free(st->applied[i].applied_at);
	}
	free(st->applied);
	*st = (struct sl_db_status)SL_DB_STATUS_INIT;
}

static int known_version(void)
{
	return sl_db_migrations_nr ? sl_db_migrations[sl_db_migrations_nr - 1].version : 0;
}

int sl_db_ping(struct sl_db *db, struct sl_strbuf *err)
{
	PGresult *res = NULL;
	int rc = sl_db_q_idempotent(db, SL_Q_DB_PING, 0, NULL, &res, err);

	PQclear(res);
	return rc;
}

int sl_db_status(struct sl_db *db, struct sl_db_status *st, struct sl_strbuf *err)
{
	PGresult *r = NULL;
	int rc;

	sl_db_status_release(st);
	st->known_version = known_version();
	rc = sl_db_q_idempotent(db, SL_Q_DB_HAS_MIGRATIONS, 0, NULL, &r, err);
	if (rc)
		goto fail;
	st->initialised = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	r = NULL;
	if (!st->initialised)
		return 0;
	rc = sl_db_q_idempotent(db, SL_Q_DB_MIGRATIONS_APPLIED, 0, NULL, &r, err);
	if (rc)
		goto fail;
	for (int i = 0; i < PQntuples(r); i++) {
		struct sl_db_applied *a;

		SL_ALLOC_GROW(st->applied, st->applied_nr + 1, st->applied_alloc);
		a = &st->applied[st->applied_nr++];
		a->version = atoi(PQgetvalue(r, i, 0));
		a->name = sl_xstrdup(PQgetvalue(r, i, 1));
		a->applied_at = sl_xstrdup(PQgetvalue(r, i, 2));
		if (a->version > st->version)
			st->version = a->version;
	}
	PQclear(r);
	return 0;
fail:
	PQclear(r);
	return rc;
}

struct migrate_step {
	int applied_version; /* what this transaction applied, 0 if nothing */
};

/* Where, in lines of the script, the server located an error. */
static unsigned error_line(const PGresult *r, const char *sql)
{
	const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	long chars = pos ? atol(pos) : 0;
	unsigned line = 1;

	/* The position counts characters from 1, not bytes. */
	for (const char *p = sql; *p && chars > 1; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars--;
		if (*p == '\n')
			line++;
	}
	return pos ? line : 0;
}

/*
 * The migration scripts are the one place sluice sends SQL without
 * PQexecParams: a script holds many statements, which only the simple query
 * protocol accepts. They are constants compiled into the binary and carry
 * no values.
 */
static int run_script(struct sl_db *db, const struct sl_db_migration *m, struct sl_strbuf *err)
{
	PGresult *r = PQexec(db->conn, m->sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	unsigned line;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(r);
		return 0;
	}
	if (connection_lost(db, r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL))
		return finish(db, r, NULL, err);
	line = r ? error_line(r, m->sql) : 0;
	add_err(err, "migration %s failed", m->file);
	if (line)
		add_err(err, " at line %u", line);
	add_err(err, ": ");
	return finish(db, r, NULL, err);
}

static int add_privilege_hint(struct sl_db *db, int rc, struct sl_strbuf *err)
{
	if (rc == SL_ERR && !strcmp(db->sqlstate, "42501"))
		add_err(err, "; the database role needs CREATE on the schema (on PostgreSQL 15 "
		             "and later, make it the database's owner or GRANT CREATE ON SCHEMA "
		             "public)");
	return rc;
}

static int migrate_step(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	const char *lock[] = {SL_DB_MIGRATE_LOCK};
	struct migrate_step *step = ctx;
	const struct sl_db_migration *m;
	PGresult *r = NULL;
	char version[16];
	const char *params[2];
	int current = 0, rc;

	step->applied_version = 0;
	/* Released at COMMIT or ROLLBACK; see sl_db_migrate for why the
	 * session lock is taken as well. */
	rc = sl_db_q(db, SL_Q_DB_MIGRATE_XACT_LOCK, 1, lock, NULL, err);
	if (rc)
		return rc;
	rc = sl_db_q(db, SL_Q_DB_HAS_MIGRATIONS, 0, NULL, &r, err);
	if (rc)
		return rc;
	if (!strcmp(PQgetvalue(r, 0, 0), "t")) {
		PQclear(r);
		rc = sl_db_q(db, SL_Q_DB_MIGRATIONS_VERSION, 0, NULL, &r, err);
		if (rc)
			return rc;
		current = atoi(PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	if (current > known_version()) {
		add_err(err,
		        "the database schema is at version %d, newer than this sluice knows "
		        "(%d); upgrade sluice to a release that has migration %04d",
		        current, known_version(), current);
		return SL_ERR;
	}
	if (current == known_version())
		return 0;
	m = &sl_db_migrations[current];
	rc = run_script(db, m, err);
	if (rc)
		return rc;
	snprintf(version, sizeof(version), "%d", m->version);
	params[0] = version;
	params[1] = m->name;
	rc = sl_db_q(db, SL_Q_DB_MIGRATION_RECORD, 2, params, NULL, err);
	if (rc)
		return rc;
	step->applied_version = m->version;
	return 0;
}

/*
 * Why two locks. The session lock is taken before each migration's BEGIN,
 * because only a transaction's start makes a backend process the catalog
 * changes other sessions committed meanwhile: a backend that waited for a
 * transaction-level lock inside its transaction would still believe, from an
 * earlier lookup, that schema_migrations does not exist after another
 * migrator created it. The transaction-level lock in migrate_step is free
 * while the session lock is held; it is what serialises a step that
 * sl_db_transaction re-runs on a new connection, where the session lock is
 * gone (and the new backend has looked nothing up before waiting).
 */
int sl_db_migrate(struct sl_db *db, int *applied, struct sl_strbuf *err)
{
	const char *lock[] = {SL_DB_MIGRATE_LOCK};
	int count = 0, rc;

	if (applied)
		*applied = 0;
	rc = sl_db_q_idempotent(db, SL_Q_DB_MIGRATE_LOCK, 1, lock, NULL, err);
	if (rc)
		return rc;
	for (;;) {
		struct migrate_step step = {0};

		/* Idempotent: each step reads the version under the lock first,
		 * so running it again after an unknown COMMIT outcome is safe. */
		rc = sl_db_transaction(db, SL_DB_TX_IDEMPOTENT, migrate_step, &step, err);
		if (rc)
			break;
		if (!step.applied_version)
			break;
		count++;
	}
	/* After a lost connection the server has released it already. */
	if (PQstatus(db->conn) == CONNECTION_OK && !sl_db_in_transaction(db))
		PQclear(run_query(db, SL_Q_DB_MIGRATE_UNLOCK, lock));
	if (applied)
		*applied = count;
	return add_privilege_hint(db, rc, err);
}
