#ifndef SLUICE_CLI_STANDALONE_PG_H
#define SLUICE_CLI_STANDALONE_PG_H

/*
 * `sluice standalone` in two files: cmd_standalone.c runs the command (the
 * state folder, the daemons' files, the daemons, the signals);
 * standalone_pg.c keeps the private PostgreSQL cluster used when no
 * database is configured: initdb, the socket folder, the safe settings,
 * pg_hba.conf and pg_ident.conf, bringing an older sluice's cluster to
 * them, pg_ctl start and stop.
 */

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "sluice/strbuf.h"

/* The command's state; the cluster's part is filled by standalone_pg_start. */
struct standalone {
	char *state;  /* absolute */
	char *pgdir;  /* STATE/pg, the socket folder */
	char *pgdata; /* STATE/pg/data */
	char *pgbin;  /* folder of initdb and pg_ctl */
	char *runas;  /* server user when root, else NULL */
	uid_t pg_uid; /* runas's ids, owner of pgdir */
	gid_t pg_gid;
	char *client; /* who runs this: the one OS user pg_ident.conf lets in */
	bool pg_started;
	sigset_t oldmask, sigs;
	pid_t sched, worker, web;
};

/** "a/b", allocated. */
char *standalone_join(const char *a, const char *b);

/** A child running argv: see cmd_standalone.c. */
pid_t standalone_spawn(struct standalone *sa, const char *const argv[], const char *runas,
                       const char *log);

/**
 * Create the cluster in STATE/pg on first use, bring it to the safe
 * settings and start it; append to `admin_url` and `url` the connection
 * strings of its databases `postgres` and `sluice`. -1 when something
 * failed (said on stderr). The caller frees the fields it set.
 */
int standalone_pg_start(struct standalone *sa, struct sl_strbuf *admin_url, struct sl_strbuf *url);

/** pg_ctl stop, when standalone_pg_start started the cluster. */
void standalone_pg_stop(struct standalone *sa);

#endif
