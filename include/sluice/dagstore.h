#ifndef SLUICE_DAGSTORE_H
#define SLUICE_DAGSTORE_H

#ifndef SLUICE_LAYER_ENGINE
#error "sluice/dagstore.h: this target does not link the engine layer (docs/architecture.md)"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "sluice/db.h"
#include "sluice/gitsrc.h"
#include "sluice/strbuf.h"

/**
 * The DAG store: brings the database in line with the DAG files of one
 * commit of the repository (docs/dag-source.md). Used by `sluice dags
 * refresh` and, on a timer, by the scheduler.
 *
 * At the commit, for every DAG file under the configured path (sorted by
 * path):
 *
 *  - a file whose path and blob id are those of its DAG's latest version is
 *    unchanged: it is not parsed again;
 *  - any other file is loaded (sl_dag_load, with its path in the repository
 *    as the file name, so messages read `dags/etl.yaml:12:5: ...`). A DAG
 *    that loads gets a new dag_versions row (its JSON definition) and
 *    becomes the DAG's latest version; a new DAG starts paused or not as
 *    its file says;
 *  - a file that does not load (or whose DAG id an earlier file at the
 *    commit already defines, or that is over the size limit) gets
 *    load_errors rows for the commit, every diagnostic, with the DAG id
 *    when it is known; its DAG keeps its latest version;
 *  - a DAG that no file at the commit defines or attempts to define is
 *    marked removed (removed_at); it is un-marked when its file comes back.
 *
 * dags.run_commit becomes the commit new runs of each DAG pin: the current
 * commit where the DAG's file loaded (new or unchanged); left as it was
 * where the file is broken (the last commit at which it loaded).
 *
 * All of it is one transaction, serialised against other refreshes by the
 * advisory lock SL_DAGSTORE_LOCK, and it ends with NOTIFY sluice 'refresh'
 * when it changed something (report.changed). Syncing a commit again
 * changes nothing and notifies no one (its load errors are replaced, not
 * added again).
 */

/** Transaction-level advisory lock of a sync ("sluice" in ASCII, plus 1). */
#define SL_DAGSTORE_LOCK "126909663503206"

/** Where the DAGs come from (the configuration's `dags:` and `state_dir`). */
struct sl_dagstore_source {
	const char *repo;      /* path or URL (see gitsrc.h) */
	const char *branch;    /* NULL or "": the remote's HEAD, else main, else master */
	const char *path;      /* folder in the repository; NULL or "": the root */
	const char *state_dir; /* holds the mirrors of URLs */
};

/** One problem in a DAG file at the synced commit. */
struct sl_dagstore_error {
	char *file; /* path in the repository */
	unsigned line, column;
	char *message;
	char *dag_id; /* NULL when unknown */
};

/** What a sync did. Counts are of files, except versions and DAGs. */
struct sl_dagstore_report {
	char commit[SL_OID_HEX_MAX + 1];
	char *repo;   /* as configured, without credentials (sluice/url.h) */
	char *branch; /* the branch resolved */
	char *path;
	size_t files;        /* DAG files at the commit */
	size_t parsed;       /* files loaded (not skipped as unchanged) */
	size_t unchanged;    /* files skipped: same path and blob as the latest version */
	size_t new_versions; /* dag_versions rows added */
	size_t failed;       /* files with load errors */
	size_t removed;      /* DAGs newly marked removed */
	size_t restored;     /* removed DAGs whose file came back */
	struct sl_dagstore_error *errors;
	size_t errors_nr, errors_alloc;
	/*
	 * false: the commit is the one the last sync of this source stored
	 * and no DAG row changed, so there is no news (no NOTIFY was sent; the
	 * load errors, if any, are those already recorded for the commit).
	 */
	bool changed;
};

#define SL_DAGSTORE_REPORT_INIT                                               \
	{                                                                     \
		{0}, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, NULL, 0, 0, false \
	}

void sl_dagstore_report_release(struct sl_dagstore_report *report);

/**
 * Open the source, fetch it (a mirror), resolve the branch, and sync that
 * commit: the whole refresh. Returns 0, or a negative code with a sentence
 * in `err`: SL_EUNAVAIL when PostgreSQL cannot be reached, SL_ENOENT for an
 * unknown branch or a missing path, others for a repository that cannot be
 * read or a database error. Load errors in DAG files are not failures: they
 * are recorded and listed in the report.
 *
 * It blocks on the network and the database; the scheduler runs it off its
 * loop, with a connection of its own. It never fetches with a transaction
 * open.
 */
int sl_dagstore_refresh(struct sl_db *db, const struct sl_dagstore_source *source,
                        struct sl_dagstore_report *report, struct sl_strbuf *err);

/**
 * Sync `commit` (hex) of an opened source into the database: the second half
 * of sl_dagstore_refresh, for a caller that fetched and resolved already.
 * `branch` is recorded in source_state (may be NULL).
 */
int sl_dagstore_sync(struct sl_db *db, struct sl_gitsrc *git, const char *commit,
                     const char *branch, const char *path, struct sl_dagstore_report *report,
                     struct sl_strbuf *err);

#endif
