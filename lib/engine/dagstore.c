/*
 * Sync the DAG files of one commit into the database: versions, load
 * errors, removed DAGs and the commit new runs pin. See
 * include/sluice/dagstore.h and docs/dag-source.md.
 */
#include "sluice/dagstore.h"

#include "engine_int.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/dag_json.h"
#include "sluice/diag.h"
#include "sluice/error.h"
#include "sluice/pgarray.h"
#include "sluice/url.h"
#include "sluice/yaml_doc.h"
#include "sluice/banned.h"

/* A DAG as the database knows it before the sync. */
struct current {
	char *dag_id;
	char *path;    /* of its latest version; NULL when it has none */
	char *blob_id; /* likewise */
	bool removed;
};

enum outcome {
	FILE_UNCHANGED, /* same path and blob as its DAG's latest version */
	FILE_LOADED,    /* parsed into a DAG: a version to store */
	FILE_FAILED,    /* load errors (in the report) */
};

/*
 * FILE_LOADED: the columns of dag_versions that SQL reads (migration 0007),
 * taken from the parsed DAG rather than its JSON, as parameters.
 */
struct version_columns {
	char *schedule; /* NULL: triggered only */
	char *timezone;
	bool has_start_date, has_end_date;
	struct ts start_date, end_date;
	struct num max_active_runs, max_active_tasks;
	bool catchup;
	struct sl_strbuf tags; /* an array literal */
	char *owner;           /* NULL when absent */
};

struct file_result {
	char *path;
	char *blob_id;
	enum outcome outcome;
	char *dag_id;     /* NULL: failed and unknown */
	char *definition; /* FILE_LOADED: the JSON text */
	char *source;     /* FILE_LOADED: the file's text (UTF-8, no NUL: the loader checked) */
	bool paused;      /* FILE_LOADED: the file's `paused:` */
	struct version_columns cols;
};

struct sync {
	struct sl_gitsrc *git;
	const char *commit;
	const char *branch;
	const char *path;
	struct sl_dagstore_report *report;

	/* Rebuilt by each attempt of the transaction. */
	struct current *cur;
	size_t cur_nr, cur_alloc;
	struct file_result *files;
	size_t files_nr, files_alloc;
	size_t touched; /* DAG rows the unchanged and broken updates changed */
};

static void report_clear_errors(struct sl_dagstore_report *r)
{
	for (size_t i = 0; i < r->errors_nr; i++) {
		free(r->errors[i].file);
		free(r->errors[i].message);
		free(r->errors[i].dag_id);
	}
	r->errors_nr = 0;
}

void sl_dagstore_report_release(struct sl_dagstore_report *report)
{
	report_clear_errors(report);
	free(report->errors);
	free(report->repo);
	free(report->branch);
	free(report->path);
	*report = (struct sl_dagstore_report)SL_DAGSTORE_REPORT_INIT;
}

static void report_add_error(struct sl_dagstore_report *r, const char *file, unsigned line,
                             unsigned column, const char *message, const char *dag_id)
{
	struct sl_dagstore_error *e;

	SL_ALLOC_GROW(r->errors, r->errors_nr + 1, r->errors_alloc);
	e = &r->errors[r->errors_nr++];
	e->file = sl_xstrdup(file);
	/* The schema wants positions from 1; the loader's are, but be sure. */
	e->line = line ? line : 1;
	e->column = column ? column : 1;
	e->message = sl_xstrdup(message && *message ? message : "cannot be loaded");
	e->dag_id = dag_id ? sl_xstrdup(dag_id) : NULL;
}

/* Free what one attempt of the transaction built. */
static void sync_clear(struct sync *s)
{
	for (size_t i = 0; i < s->cur_nr; i++) {
		free(s->cur[i].dag_id);
		free(s->cur[i].path);
		free(s->cur[i].blob_id);
	}
	s->cur_nr = 0;
	for (size_t i = 0; i < s->files_nr; i++) {
		free(s->files[i].path);
		free(s->files[i].blob_id);
		free(s->files[i].dag_id);
		free(s->files[i].definition);
		free(s->files[i].source);
		free(s->files[i].cols.schedule);
		free(s->files[i].cols.timezone);
		sl_strbuf_release(&s->files[i].cols.tags);
		free(s->files[i].cols.owner);
	}
	s->files_nr = 0;
}

/* Start an attempt of the transaction from nothing. */
static void sync_reset(struct sync *s)
{
	struct sl_dagstore_report *r = s->report;

	sync_clear(s);
	report_clear_errors(r);
	r->files = r->parsed = r->unchanged = r->new_versions = 0;
	r->failed = r->removed = r->restored = 0;
	r->changed = false;
}

static void sync_release(struct sync *s)
{
	sync_clear(s);
	free(s->cur);
	free(s->files);
}

/* The DB says "relation does not exist" on a database nobody initialised. */
static int db_fail(struct sl_db *db, int rc, struct sl_strbuf *err)
{
	if (!strcmp(sl_db_sqlstate(db), "42P01") || !strcmp(sl_db_sqlstate(db), "42703"))
		sl_strbuf_adds(err, " (is the schema up to date? run 'sluice db migrate')");
	return rc;
}

static int exec(struct sl_db *db, enum sl_query q, int n, const char *const *params, PGresult **res,
                struct sl_strbuf *err)
{
	int rc = sl_db_q(db, q, n, params, res, err);

	return rc ? db_fail(db, rc, err) : 0;
}

static int cmp_current(const void *a, const void *b)
{
	const struct current *x = a, *y = b;
	int c;

	/* DAGs without a version sort first and are never looked up. */
	if (!x->path || !y->path)
		return (x->path != NULL) - (y->path != NULL);
	c = strcmp(x->path, y->path);
	return c ? c : strcmp(x->blob_id, y->blob_id);
}

/* Every DAG, with the path and blob of its latest version: one query. */
static int load_current(struct sl_db *db, struct sync *s, struct sl_strbuf *err)
{
	PGresult *r = NULL;
	int rc = exec(db, SL_Q_DAGSTORE_CURRENT, 0, NULL, &r, err);

	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		struct current *c;

		SL_ALLOC_GROW(s->cur, s->cur_nr + 1, s->cur_alloc);
		c = &s->cur[s->cur_nr++];
		c->dag_id = sl_xstrdup(PQgetvalue(r, i, 0));
		c->path = PQgetisnull(r, i, 1) ? NULL : sl_xstrdup(PQgetvalue(r, i, 1));
		c->blob_id = PQgetisnull(r, i, 2) ? NULL : sl_xstrdup(PQgetvalue(r, i, 2));
		c->removed = !strcmp(PQgetvalue(r, i, 3), "t");
	}
	PQclear(r);
	if (s->cur_nr)
		qsort(s->cur, s->cur_nr, sizeof(*s->cur), cmp_current);
	return 0;
}

static const struct current *find_version(const struct sync *s, const char *path,
                                          const char *blob_id)
{
	struct current key = {.path = (char *)path, .blob_id = (char *)blob_id};

	if (!s->cur_nr)
		return NULL;
	return bsearch(&key, s->cur, s->cur_nr, sizeof(*s->cur), cmp_current);
}

static const struct current *find_dag(const struct sync *s, const char *dag_id)
{
	for (size_t i = 0; i < s->cur_nr; i++)
		if (!strcmp(s->cur[i].dag_id, dag_id))
			return &s->cur[i];
	return NULL;
}

/* The file that already defines `dag_id` at this commit, or NULL. */
static const struct file_result *claimed_by(const struct sync *s, const char *dag_id)
{
	for (size_t i = 0; i < s->files_nr; i++)
		if (s->files[i].outcome != FILE_FAILED && !strcmp(s->files[i].dag_id, dag_id))
			return &s->files[i];
	return NULL;
}

/* The id the loader would give the file: `dag:` when the YAML can be read,
 * else its name. NULL when the YAML is unreadable or the id invalid. */
static char *id_from_yaml(const char *path, const char *data, size_t len)
{
	struct sl_diags diags = SL_DIAGS_INIT;
	struct sl_ydoc *doc = NULL;
	const struct sl_ynode *root;
	const char *base;
	char *id = NULL;
	size_t n;

	sl_ydoc_parse(&doc, path, data, len, &diags);
	sl_diags_release(&diags);
	if (!doc)
		return NULL;
	root = sl_ynode_deref(sl_ydoc_root(doc));
	if (root->kind != SL_YNODE_MAPPING)
		goto out;
	for (size_t i = 0; i < root->u.map.nr; i++) {
		const struct sl_ynode *v = sl_ynode_deref(root->u.map.pairs[i].value);

		if (strcmp(root->u.map.pairs[i].key->u.scalar.text, "dag"))
			continue;
		if (sl_ynode_is_string(v) && sl_id_valid(v->u.scalar.text))
			id = sl_xstrdup(v->u.scalar.text);
		goto out;
	}
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	n = strlen(base);
	n -= n > 5 && !strcmp(base + n - 5, ".yaml") ? 5 : 4;
	id = sl_xstrndup(base, n);
	if (!sl_id_valid(id)) {
		free(id);
		id = NULL;
	}
out:
	sl_ydoc_free(doc);
	return id;
}

/* Which DAG a file that failed to load was meant to define, when known:
 * what its YAML says, else the DAG whose latest version came from it. */
static char *failed_dag_id(const struct sync *s, const struct sl_gitsrc_file *f)
{
	char *id = f->data ? id_from_yaml(f->path, f->data, f->size) : NULL;

	for (size_t i = 0; !id && i < s->cur_nr; i++)
		if (s->cur[i].path && !strcmp(s->cur[i].path, f->path))
			id = sl_xstrdup(s->cur[i].dag_id);
	return id;
}

static struct file_result *add_file(struct sync *s, const struct sl_gitsrc_file *f,
                                    enum outcome outcome)
{
	struct file_result *fr;

	SL_ALLOC_GROW(s->files, s->files_nr + 1, s->files_alloc);
	fr = &s->files[s->files_nr++];
	memset(fr, 0, sizeof(*fr));
	fr->path = sl_xstrdup(f->path);
	fr->blob_id = sl_xstrdup(f->blob_id);
	fr->outcome = outcome;
	return fr;
}

static void add_failed(struct sync *s, const struct sl_gitsrc_file *f, const struct sl_diags *d,
                       char *dag_id)
{
	struct file_result *fr = add_file(s, f, FILE_FAILED);

	fr->dag_id = dag_id;
	for (size_t i = 0; i < d->nr; i++)
		report_add_error(s->report, f->path, d->items[i].line, d->items[i].column,
		                 d->items[i].message, dag_id);
	if (!d->nr)
		report_add_error(s->report, f->path, 1, 1, NULL, dag_id);
	s->report->failed++;
}

static void add_duplicate(struct sync *s, const struct sl_gitsrc_file *f, const char *dag_id,
                          const struct file_result *first)
{
	struct sl_diags d = SL_DIAGS_INIT;

	sl_diags_add(&d, f->path, 1, 1,
	             "DAG '%s' is already defined by %s (one file per DAG id; this file is "
	             "ignored)",
	             dag_id, first->path);
	add_failed(s, f, &d, sl_xstrdup(dag_id));
	sl_diags_release(&d);
}

static void version_columns_set(struct version_columns *c, const struct sl_dag *dag)
{
	c->schedule = dag->schedule ? sl_xstrdup(dag->schedule) : NULL;
	c->timezone = sl_xstrdup(dag->timezone);
	c->has_start_date = dag->has_start_date;
	if (dag->has_start_date)
		sl__ts_of(&c->start_date, dag->start_date * 1000);
	c->has_end_date = dag->has_end_date;
	if (dag->has_end_date)
		sl__ts_of(&c->end_date, dag->end_date * 1000);
	c->catchup = dag->catchup;
	sl__num_of(&c->max_active_runs, dag->max_active_runs);
	sl__num_of(&c->max_active_tasks, dag->max_active_tasks);
	sl_strbuf_init(&c->tags);
	for (size_t i = 0; i < dag->tags_nr; i++)
		sl_pgarray_add(&c->tags, dag->tags[i]);
	sl_pgarray_end(&c->tags);
	c->owner = dag->owner ? sl_xstrdup(dag->owner) : NULL;
}

/* One DAG file of the commit: decide, parse when needed, remember. */
static int visit(const struct sl_gitsrc_file *f, void *ctx, struct sl_strbuf *err)
{
	struct sync *s = ctx;
	struct sl_diags diags = SL_DIAGS_INIT;
	const struct current *c;
	const struct file_result *first;
	struct sl_dag *dag = NULL;
	struct file_result *fr;
	json_t *json;
	int rc = 0;

	s->report->files++;
	if (f->problem) {
		sl_diags_add(&diags, f->path, 1, 1, "%s", f->problem);
		add_failed(s, f, &diags, failed_dag_id(s, f));
		goto out;
	}
	c = find_version(s, f->path, f->blob_id);
	if (c) {
		first = claimed_by(s, c->dag_id);
		if (first) {
			add_duplicate(s, f, c->dag_id, first);
			goto out;
		}
		fr = add_file(s, f, FILE_UNCHANGED);
		fr->dag_id = sl_xstrdup(c->dag_id);
		s->report->unchanged++;
		s->report->restored += c->removed;
		goto out;
	}
	s->report->parsed++;
	if (sl_dag_load(&dag, f->path, f->data, f->size, NULL, &diags) < 0) {
		add_failed(s, f, &diags, failed_dag_id(s, f));
		goto out;
	}
	first = claimed_by(s, dag->id);
	if (first) {
		add_duplicate(s, f, dag->id, first);
		goto out;
	}
	json = sl_dag_to_json(dag);
	fr = add_file(s, f, FILE_LOADED);
	fr->dag_id = sl_xstrdup(dag->id);
	fr->paused = dag->paused;
	version_columns_set(&fr->cols, dag);
	fr->definition = json ? json_dumps(json, JSON_COMPACT) : NULL;
	fr->source = sl_xstrndup(f->data, f->size);
	json_decref(json);
	if (!fr->definition) {
		sl_strbuf_addf(err, "%s: cannot convert DAG '%s' to JSON", f->path, dag->id);
		rc = SL_ERR;
	}
out:
	sl_dag_free(dag);
	sl_diags_release(&diags);
	return rc;
}

static int store_loaded(struct sl_db *db, struct sync *s, const struct file_result *fr,
                        struct sl_strbuf *err)
{
	const char *p[15] = {fr->dag_id, fr->paused ? "true" : "false"};
	const struct current *c = find_dag(s, fr->dag_id);
	char version_id[32];
	PGresult *r = NULL;
	int rc;

	rc = exec(db, SL_Q_DAGSTORE_NEW_DAG, 2, p, NULL, err);
	if (rc)
		return rc;
	p[1] = s->commit;
	p[2] = fr->blob_id;
	p[3] = fr->path;
	p[4] = fr->definition;
	p[5] = fr->cols.schedule;
	p[6] = fr->cols.timezone;
	p[7] = fr->cols.has_start_date ? fr->cols.start_date.buf : NULL;
	p[8] = fr->cols.has_end_date ? fr->cols.end_date.buf : NULL;
	p[9] = fr->cols.catchup ? "true" : "false";
	p[10] = fr->cols.max_active_runs.buf;
	p[11] = fr->cols.max_active_tasks.buf;
	p[12] = fr->source;
	p[13] = fr->cols.tags.buf;
	p[14] = fr->cols.owner;
	rc = exec(db, SL_Q_DAGSTORE_VERSION, 15, p, &r, err);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		sl_strbuf_addf(err, "cannot store the version of DAG '%s'", fr->dag_id);
		return SL_ERR;
	}
	snprintf(version_id, sizeof(version_id), "%s", PQgetvalue(r, 0, 0));
	s->report->new_versions += !strcmp(PQgetvalue(r, 0, 1), "t");
	PQclear(r);
	s->report->restored += c && c->removed;
	p[1] = version_id;
	p[2] = s->commit;
	return exec(db, SL_Q_DAGSTORE_SET_LATEST, 3, p, NULL, err);
}

/* The DAG ids of files with `outcome` (every present DAG when `all`). */
static const char **ids_of(const struct sync *s, enum outcome outcome, bool all, size_t *nr)
{
	const char **ids = sl_xcalloc(s->files_nr + 1, sizeof(*ids));

	*nr = 0;
	for (size_t i = 0; i < s->files_nr; i++)
		if (s->files[i].dag_id && (all || s->files[i].outcome == outcome))
			ids[(*nr)++] = s->files[i].dag_id;
	return ids;
}

/* An UPDATE of the DAGs of some files; `rows` gets the number it changed. */
static int exec_ids(struct sl_db *db, struct sync *s, enum sl_query q, const char *first,
                    enum outcome outcome, bool all, size_t *rows, struct sl_strbuf *err)
{
	struct sl_strbuf array = SL_STRBUF_INIT;
	size_t nr;
	const char **ids = ids_of(s, outcome, all, &nr);
	const char *p[2] = {first};
	PGresult *r = NULL;
	int rc;

	for (size_t i = 0; i < nr; i++)
		sl_pgarray_add(&array, ids[i]);
	p[first ? 1 : 0] = sl_pgarray_end(&array);
	rc = exec(db, q, first ? 2 : 1, p, &r, err);
	if (!rc)
		*rows = strtoul(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	sl_strbuf_release(&array);
	free(ids);
	return rc;
}

/*
 * Whether the sync changed anything a listener cares about: another commit
 * than the source's last sync (or another source), or any DAG row updated.
 * `state` is the source_state row about to be written (repo, branch, path,
 * commit). The dagstore_unchanged and dagstore_broken updates only touch
 * rows that change, so their counts (s->touched) are news too.
 */
static int note_changed(struct sl_db *db, struct sync *s, const char *const *state,
                        struct sl_strbuf *err)
{
	struct sl_dagstore_report *rep = s->report;
	PGresult *r = NULL;
	int rc = exec(db, SL_Q_DAGSTORE_PREVIOUS, 3, state, &r, err);

	if (rc)
		return rc;
	rep->changed = PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), state[3]) ||
	               rep->new_versions || rep->removed || rep->restored || s->touched;
	PQclear(r);
	return 0;
}

static int store_errors(struct sl_db *db, struct sync *s, struct sl_strbuf *err)
{
	const struct sl_dagstore_report *r = s->report;
	int rc = 0;

	for (size_t i = 0; i < r->errors_nr && !rc; i++) {
		const struct sl_dagstore_error *e = &r->errors[i];
		char line[16], col[16];
		const char *p[6] = {s->commit, e->file, e->dag_id, line, col, e->message};

		snprintf(line, sizeof(line), "%u", e->line);
		snprintf(col, sizeof(col), "%u", e->column);
		rc = exec(db, SL_Q_DAGSTORE_ERROR, 6, p, NULL, err);
	}
	return rc;
}

/* The transaction: runs again from the top when sl_db_transaction retries. */
static int sync_tx(struct sl_db *db, void *ctx, struct sl_strbuf *err)
{
	struct sync *s = ctx;
	const char *lock[] = {SL_DAGSTORE_LOCK};
	const char *state[4];
	char *repo = sl_url_redact(sl_gitsrc_repo(s->git));
	size_t moved = 0, broken = 0;
	int rc;

	sync_reset(s);
	rc = exec(db, SL_Q_DAGSTORE_LOCK, 1, lock, NULL, err);
	if (!rc)
		rc = load_current(db, s, err);
	if (!rc)
		rc = sl_gitsrc_walk(s->git, s->commit, s->path, 0, visit, s, err);
	if (!rc)
		rc = exec(db, SL_Q_DAGSTORE_CLEAR_ERRORS, 1, &s->commit, NULL, err);
	for (size_t i = 0; !rc && i < s->files_nr; i++)
		if (s->files[i].outcome == FILE_LOADED)
			rc = store_loaded(db, s, &s->files[i], err);
	if (!rc)
		rc = exec_ids(db, s, SL_Q_DAGSTORE_UNCHANGED, s->commit, FILE_UNCHANGED, false,
		              &moved, err);
	if (!rc)
		rc = exec_ids(db, s, SL_Q_DAGSTORE_BROKEN, NULL, FILE_FAILED, false, &broken, err);
	s->touched = moved + broken;
	if (!rc)
		rc = store_errors(db, s, err);
	if (!rc)
		rc =
		    exec_ids(db, s, SL_Q_DAGSTORE_REMOVED, NULL, 0, true, &s->report->removed, err);
	if (!rc) {
		state[0] = repo;
		state[1] = s->branch && *s->branch ? s->branch : NULL;
		state[2] = s->path ? s->path : "";
		state[3] = s->commit;
		rc = note_changed(db, s, state, err);
	}
	if (!rc)
		rc = exec(db, SL_Q_DAGSTORE_SOURCE_STATE, 4, state, NULL, err);
	/* Every listener wakes on a NOTIFY: send it only when there is news. */
	if (!rc && s->report->changed)
		rc = exec(db, SL_Q_DAGSTORE_NOTIFY, 0, NULL, NULL, err);
	free(repo);
	return rc;
}

int sl_dagstore_sync(struct sl_db *db, struct sl_gitsrc *git, const char *commit,
                     const char *branch, const char *path, struct sl_dagstore_report *report,
                     struct sl_strbuf *err)
{
	struct sync s = {
	    .git = git,
	    .commit = commit,
	    .branch = branch,
	    .path = path,
	    .report = report,
	};
	int rc;

	snprintf(report->commit, sizeof(report->commit), "%s", commit);
	if (!report->repo)
		report->repo = sl_url_redact(sl_gitsrc_repo(git));
	if (!report->branch && branch)
		report->branch = sl_xstrdup(branch);
	if (!report->path)
		report->path = sl_xstrdup(path ? path : "");
	rc = sl_db_transaction(db, 0, sync_tx, &s, err);
	sync_release(&s);
	return rc;
}

int sl_dagstore_refresh(struct sl_db *db, const struct sl_dagstore_source *source,
                        struct sl_dagstore_report *report, struct sl_strbuf *err)
{
	struct sl_strbuf branch = SL_STRBUF_INIT;
	struct sl_gitsrc *git = NULL;
	char commit[SL_OID_HEX_MAX + 1];
	int rc;

	rc = sl_gitsrc_open(&git, source->repo, source->state_dir, err);
	if (!rc)
		rc = sl_gitsrc_fetch(git, err);
	if (!rc)
		rc = sl_gitsrc_resolve(git, source->branch, commit, &branch, err);
	if (!rc) {
		free(report->branch);
		report->branch = sl_strbuf_detach(&branch, NULL);
		rc = sl_dagstore_sync(db, git, commit, report->branch, source->path, report, err);
	}
	sl_gitsrc_free(git);
	sl_strbuf_release(&branch);
	return rc;
}
