/*
 * The private PostgreSQL cluster of `sluice standalone` (standalone_pg.h):
 * unix socket only, in a folder only the server's user may enter, peer
 * authentication for the user running the command and nobody else, fsync
 * on, rewritten at every start so that a cluster made by an older sluice
 * ends up the same as a new one.
 */
#include "standalone_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

#define PG_PORT "5432"
/* The first words of the block sluice appends to postgresql.conf. */
#define SA_CONF_MARKER "# sluice standalone"

/* The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl, else PATH's. */
static char *find_pgbin(void)
{
	char best[PATH_MAX] = "";
	long best_v = -1;

	for (long v = 99; v >= 9 && best_v < 0; v--) {
		char dir[64], tool[96];

		snprintf(dir, sizeof(dir), "/usr/lib/postgresql/%ld/bin", v);
		snprintf(tool, sizeof(tool), "%s/pg_ctl", dir);
		if (access(tool, X_OK) == 0) {
			snprintf(tool, sizeof(tool), "%s/initdb", dir);
			if (access(tool, X_OK) == 0) {
				snprintf(best, sizeof(best), "%s", dir);
				best_v = v;
			}
		}
	}
	if (best_v >= 0)
		return strdup(best);
	/* PATH */
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin");
	char *save = NULL, *res = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *i = standalone_join(d, "initdb"), *c = standalone_join(d, "pg_ctl");
		bool ok = access(i, X_OK) == 0 && access(c, X_OK) == 0;

		free(i);
		free(c);
		if (ok) {
			res = strdup(d);
			break;
		}
	}
	free(copy);
	return res;
}

/* Run a command to its end; its exit status, or -1. */
static int run_wait(struct standalone *sa, const char *const argv[], const char *runas,
                    const char *log)
{
	int st;
	pid_t pid = standalone_spawn(sa, argv, runas, log);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A postgresql.conf string. */
static void conf_str(struct sl_strbuf *sb, const char *s)
{
	sl_strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sl_strbuf_addch(sb, '\'');
		sl_strbuf_addch(sb, *s);
	}
	sl_strbuf_addch(sb, '\'');
}

/* A conninfo value, quoted only when it must be (so that the printed
 * export line stays plain). */
static void conn_str(struct sl_strbuf *sb, const char *s)
{
	if (*s && !strpbrk(s, " \t\n'\\")) {
		sl_strbuf_adds(sb, s);
		return;
	}
	sl_strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			sl_strbuf_addch(sb, '\\');
		sl_strbuf_addch(sb, *s);
	}
	sl_strbuf_addch(sb, '\'');
}

/*
 * The socket folder STATE/pg: only the server's user may enter it (and
 * root, which ignores modes), so no other local user reaches the socket
 * even before authentication. An older sluice made it 0755: `was_open` is
 * set when it was enterable by others.
 */
static int pg_private_dir(struct standalone *sa, bool *was_open)
{
	struct stat st;
	int fd = open(sa->pgdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = -1;

	if (fd < 0) {
		int e = errno;

		/* O_NOFOLLOW with O_DIRECTORY fails a link with ENOTDIR, not ELOOP. */
		if (!lstat(sa->pgdir, &st) && S_ISLNK(st.st_mode))
			cli_error("%s is a symbolic link: refusing to keep the database's socket "
			          "behind it; remove it or use another --state-dir",
			          sa->pgdir);
		else
			cli_error("%s: %s", sa->pgdir, strerror(e));
		goto out;
	}
	if (fstat(fd, &st)) {
		cli_error("%s: %s", sa->pgdir, strerror(errno));
		goto out;
	}
	*was_open = (st.st_mode & 0077) != 0;
	if (sa->runas && fchown(fd, sa->pg_uid, sa->pg_gid)) {
		cli_error("%s: cannot give it to user %s: %s", sa->pgdir, sa->runas,
		          strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0700)) {
		cli_error("%s: cannot make it private (mode 0700): %s", sa->pgdir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* pg_hba.conf gives the method `trust` somewhere outside a comment. */
static bool hba_has_trust(const char *hba)
{
	for (const char *t = hba; *t;) {
		size_t len;

		t += strspn(t, " \t\n");
		if (*t == '#') {
			t += strcspn(t, "\n");
			continue;
		}
		len = strcspn(t, " \t\n#");
		if (len == 5 && !strncmp(t, "trust", 5))
			return true;
		t += len;
	}
	return false;
}

/*
 * Write DATA/name when its content differs from `content` (the old content,
 * or "" when there is none, left in `old`), as the server's user, mode 0600.
 */
static int pg_write_conf(struct standalone *sa, const char *name, const char *content,
                         struct sl_strbuf *old)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *path = standalone_join(sa->pgdata, name);
	int rc = -1;

	sl_strbuf_reset(old);
	if (access(path, F_OK) == 0 && sl_strbuf_read_file(old, path, 1 << 20, &err)) {
		cli_error("%s", err.buf);
		goto out;
	}
	if (!strcmp(old->buf, content)) {
		rc = 0;
		goto out;
	}
	if (sl_file_write_atomic(sa->pgdata, path, content, strlen(content), &err)) {
		cli_error("%s", err.buf);
		goto out;
	}
	/* lchown: DATA is the server user's, who could have put a symlink there. */
	if (sa->runas && lchown(path, sa->pg_uid, sa->pg_gid)) {
		cli_error("%s: cannot give it to user %s: %s", path, sa->runas, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sl_strbuf_release(&err);
	free(path);
	return rc;
}

/*
 * Who may connect and how the server runs, written at every start so that
 * a cluster made by an older sluice (trust, fsync off, a socket open to
 * all) is brought to the same state as a new one. `was_open` is set when
 * pg_hba.conf trusted someone.
 *
 * Authentication is `peer` through an ident map: the kernel tells the
 * server which OS user is at the other end of the socket, and only the
 * user who runs `sluice standalone` maps to the role postgres. No
 * password exists to leak, and the role stays `postgres` in old and new
 * clusters alike, so the printed connection string does not change.
 */
static int pg_configure(struct standalone *sa, bool *was_open)
{
	struct sl_strbuf sb = SL_STRBUF_INIT, old = SL_STRBUF_INIT;
	const char *block;
	int rc = -1;

	sl_strbuf_adds(&sb, "# Written by sluice standalone at every start. Unix socket only,\n"
	                    "# peer authentication: pg_ident.conf says which OS user may be\n"
	                    "# which role.\n"
	                    "local all all peer map=standalone\n");
	if (pg_write_conf(sa, "pg_hba.conf", sb.buf, &old))
		goto out;
	if (hba_has_trust(old.buf))
		*was_open = true;

	sl_strbuf_reset(&sb);
	sl_strbuf_addf(&sb,
	               "# Written by sluice standalone at every start: the OS user who runs\n"
	               "# it is the only one that may connect, as the role postgres.\n"
	               "standalone %s postgres\n",
	               sa->client);
	if (pg_write_conf(sa, "pg_ident.conf", sb.buf, &old))
		goto out;

	/*
	 * postgresql.conf: initdb's file, then our block from its marker to
	 * the end (an older sluice appended its block there with the same
	 * first words). The block is replaced, whatever it held.
	 */
	sl_strbuf_reset(&sb);
	{
		char *path = standalone_join(sa->pgdata, "postgresql.conf");
		struct sl_strbuf err = SL_STRBUF_INIT;
		int r = sl_strbuf_read_file(&sb, path, 1 << 20, &err);

		if (r)
			cli_error("%s", err.buf);
		sl_strbuf_release(&err);
		free(path);
		if (r)
			goto out;
	}
	block = strstr(sb.buf, "\n" SA_CONF_MARKER);
	if (block)
		sl_strbuf_setlen(&sb, (size_t)(block - sb.buf) + 1);
	else if (sb.len && sb.buf[sb.len - 1] != '\n')
		sl_strbuf_addch(&sb, '\n');
	sl_strbuf_adds(&sb, SA_CONF_MARKER " (rewritten at every start: settings of your\n"
	                                   "# own go above this line)\nlisten_addresses = ''\n"
	                                   "unix_socket_directories = ");
	conf_str(&sb, sa->pgdir);
	sl_strbuf_adds(&sb, "\nunix_socket_permissions = 0700\nport = " PG_PORT "\n"
	                    "fsync = on\nsynchronous_commit = on\n");
	if (pg_write_conf(sa, "postgresql.conf", sb.buf, &old))
		goto out;
	rc = 0;
out:
	sl_strbuf_release(&sb);
	sl_strbuf_release(&old);
	return rc;
}

/*
 * The name of the OS user running this, which peer authentication will
 * see on our connections; NULL (said) when it has none or one that
 * pg_ident.conf could not hold as a plain word.
 */
static char *client_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (!pw) {
		cli_error("user id %u has no name, which PostgreSQL's peer authentication "
		          "needs",
		          (unsigned)geteuid());
		return NULL;
	}
	if (!*pw->pw_name ||
	    pw->pw_name[strspn(pw->pw_name, "abcdefghijklmnopqrstuvwxyz"
	                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$")]) {
		cli_error("user name '%s' is not made of letters, digits, '.', '_', '-' and "
		          "'$' only: PostgreSQL's pg_ident.conf cannot name it here",
		          pw->pw_name);
		return NULL;
	}
	return strdup(pw->pw_name);
}

/* initdb once, make the cluster private, then pg_ctl start. */
static int pg_start(struct standalone *sa)
{
	char *log = standalone_join(sa->state, "postgres.log");
	char *server_log = standalone_join(sa->pgdir, "server.log");
	char *version = standalone_join(sa->pgdata, "PG_VERSION");
	char *initdb = standalone_join(sa->pgbin, "initdb"),
	     *pg_ctl = standalone_join(sa->pgbin, "pg_ctl");
	struct sl_strbuf err = SL_STRBUF_INIT;
	bool fresh = false, was_open = false;
	int rc = -1;

	if (sl_mkdir_p(sa->pgdir, 0700, &err)) {
		cli_error("%s", err.buf);
		goto out;
	}
	if (pg_private_dir(sa, &was_open))
		goto out;
	if (access(version, F_OK) != 0) {
		/* No trust even for the moment before pg_configure rewrites it. */
		const char *argv[] = {initdb,
		                      "-D",
		                      sa->pgdata,
		                      "-U",
		                      "postgres",
		                      "--auth-local=peer",
		                      "--auth-host=reject",
		                      "--locale=C",
		                      "-E",
		                      "UTF8",
		                      NULL};

		fprintf(stderr, "sluice standalone: creating a PostgreSQL cluster in %s\n",
		        sa->pgdata);
		if (run_wait(sa, argv, sa->runas, log) != 0) {
			cli_error("initdb failed; see %s", log);
			goto out;
		}
		fresh = true;
	}
	if (pg_configure(sa, &was_open))
		goto out;
	if (was_open && !fresh)
		fprintf(stderr,
		        "sluice standalone: the cluster in %s was open to other local users "
		        "(as an older sluice made it); it now takes only %s, through peer "
		        "authentication, and runs with fsync on. If other people can log in "
		        "on this machine, treat it as compromised: stop, delete %s (its runs "
		        "go with it) and start again.\n",
		        sa->pgdata, sa->client, sa->pgdir);
	{
		const char *argv[] = {pg_ctl, "-D", sa->pgdata, "-l",    server_log,
		                      "-w",   "-t", "60",       "start", NULL};

		if (run_wait(sa, argv, sa->runas, log) != 0) {
			cli_error("pg_ctl start failed; see %s and %s", log, server_log);
			goto out;
		}
	}
	sa->pg_started = true;
	rc = 0;
out:
	sl_strbuf_release(&err);
	free(log);
	free(server_log);
	free(version);
	free(initdb);
	free(pg_ctl);
	return rc;
}

void standalone_pg_stop(struct standalone *sa)
{
	char *log, *pg_ctl;

	if (!sa->pg_started)
		return;
	log = standalone_join(sa->state, "postgres.log");
	pg_ctl = standalone_join(sa->pgbin, "pg_ctl");
	{
		const char *argv[] = {pg_ctl, "-D", sa->pgdata, "-m", "fast", "-w", "stop", NULL};

		if (run_wait(sa, argv, sa->runas, log) != 0)
			cli_error("pg_ctl stop failed; see %s", log);
	}
	sa->pg_started = false;
	free(log);
	free(pg_ctl);
}

int standalone_pg_start(struct standalone *sa, struct sl_strbuf *admin_url, struct sl_strbuf *url)
{
	struct sockaddr_un un;

	sa->pgdir = standalone_join(sa->state, "pg");
	sa->pgdata = standalone_join(sa->pgdir, "data");
	if (strlen(sa->pgdir) + sizeof("/.s.PGSQL." PG_PORT) > sizeof(un.sun_path)) {
		cli_error("%s: too long a path for PostgreSQL's socket: use a shorter "
		          "--state-dir",
		          sa->pgdir);
		return -1;
	}
	sa->pgbin = find_pgbin();
	if (!sa->pgbin) {
		cli_error("no PostgreSQL server binaries (initdb, pg_ctl): install "
		          "postgresql, or set SLUICE_DATABASE_URL");
		return -1;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");

		if (!pw) {
			cli_error("running as root and there is no 'postgres' user to run "
			          "PostgreSQL as");
			return -1;
		}
		sa->runas = strdup("postgres");
		sa->pg_uid = pw->pw_uid;
		sa->pg_gid = pw->pw_gid;
	}
	sa->client = client_name();
	if (!sa->client)
		return -1;
	if (pg_start(sa))
		return -1;
	sl_strbuf_adds(admin_url, "host=");
	conn_str(admin_url, sa->pgdir);
	sl_strbuf_adds(admin_url, " port=" PG_PORT " user=postgres dbname=postgres");
	sl_strbuf_adds(url, "host=");
	conn_str(url, sa->pgdir);
	sl_strbuf_adds(url, " port=" PG_PORT " user=postgres dbname=sluice");
	return 0;
}
