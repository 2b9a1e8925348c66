#ifndef SLUICE_CLI_TABLE_H
#define SLUICE_CLI_TABLE_H

/*
 * What the commands that print rows from the database share: a table that
 * sizes its columns to their contents, the human forms of durations, ages,
 * instants and commits, and how a database error becomes an exit code
 * (rows come from sluice/views.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sluice/strbuf.h"

struct cli;
struct json_t;
struct sl_db;
struct sl_tz;

/*
 * A table of text cells: a header row, then rows added cell by cell, left to
 * right. Printed with every column as wide as its widest cell (in UTF-8
 * characters), two spaces between columns, and no trailing blanks.
 *
 *     struct cli_table t = CLI_TABLE_INIT;
 *     cli_table_header(&t, "POOL", "SLOTS", NULL);
 *     cli_table_align_right(&t, 1);
 *     cli_table_add(&t, "warehouse");
 *     cli_table_addf(&t, "%d", 4);
 *     cli_table_print(&t, stdout);
 *     cli_table_release(&t);
 */
struct cli_table {
	size_t cols;
	char **cells; /* row-major; row 0 is the header */
	size_t nr, alloc;
	unsigned right; /* bit i: column i is aligned right */
};

#define CLI_TABLE_INIT           \
	{                        \
		0, NULL, 0, 0, 0 \
	}

/* Set the headers (a NULL-terminated list); fixes the number of columns. */
void cli_table_header(struct cli_table *t, ...) __attribute__((sentinel));
/* Align column `col` (from 0, at most 31) to the right, for numbers. */
void cli_table_align_right(struct cli_table *t, size_t col);
/* Add the next cell; NULL is shown as "-". */
void cli_table_add(struct cli_table *t, const char *cell);
void cli_table_addf(struct cli_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Add the next cell and empty `sb`. */
void cli_table_add_buf(struct cli_table *t, struct sl_strbuf *sb);
/* Rows added so far (the header not counted). */
size_t cli_table_rows(const struct cli_table *t);
/* Print the header and the rows (a partly filled last row is padded). */
void cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_release(struct cli_table *t);

/*
 * Print what a listing command built both ways: with --json the array
 * `list` (the reference is taken), else the table. Returns an exit code.
 */
int cli_print_list(const struct cli *cli, const struct cli_table *t, struct json_t *list);

/*
 * A duration for people, to the two largest units, truncated: "0s", "45s",
 * "3m12s", "3m", "1h5m", "2d3h". It is also valid DAG-file duration syntax.
 * Negative durations are printed as 0s.
 */
void cli_fmt_duration(struct sl_strbuf *sb, int64_t secs);
/* How long ago: "5s ago", "3m12s ago"; a negative age is "in 5s". */
void cli_fmt_age(struct sl_strbuf *sb, int64_t secs);
/* An instant as ISO 8601 in `tz` (NULL: UTC, "Z"). */
void cli_fmt_time(struct sl_strbuf *sb, int64_t t, const struct sl_tz *tz);
/* The abbreviated commit shown in tables (7 hex digits); "-" for NULL. */
void cli_fmt_commit(struct sl_strbuf *sb, const char *oid);

/*
 * The exit code for a database call's return code `rc` (a view, a store):
 * 0, or, after printing `err`, the error's (4 when PostgreSQL cannot be
 * reached).
 */
int cli_db_rc(int rc, const struct sl_strbuf *err);

#endif
