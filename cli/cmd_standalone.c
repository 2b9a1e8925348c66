/*
 * sluice standalone: everything on one machine. A private PostgreSQL
 * cluster under STATE_DIR/pg (unless a database is configured), the schema
 * migrated in-process, then sluice-scheduler and sluice-worker as child
 * processes; SIGINT/SIGTERM stops them and the cluster.
 *
 * Signals are blocked for the whole command and taken with sigtimedwait, so
 * there is no handler and no race between a child's death and the wait.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/admin.h"
#include "sluice/alloc.h"
#include "sluice/config.h"
#include "sluice/db.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "sluice/banned.h"

static int run_standalone(struct cli *cli, int argc, char **argv);

enum {
	OPT_REPO = CLI_OPT_BASE,
	OPT_PATH,
	OPT_STATE_DIR,
};

static const struct option standalone_options[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"path", required_argument, NULL, OPT_PATH},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_standalone = {
    .path = "standalone",
    .usage = "[--repo PATH] [--path DIR] [--state-dir DIR]",
    .summary = "Run PostgreSQL, a scheduler and a worker on this machine until Ctrl-C.",
    .help = "When no database is configured ($SLUICE_DATABASE_URL, database_url), creates\n"
            "a private PostgreSQL cluster in STATE_DIR/pg on first use (initdb from the\n"
            "newest /usr/lib/postgresql/*/bin) and starts it: unix socket only, in\n"
            "STATE_DIR/pg (mode 0700), peer authentication for the user running this\n"
            "command and nobody else, fsync on; as root the server runs as the\n"
            "'postgres' user. A cluster made by an older sluice is brought to the same\n"
            "settings at its next start. Then migrates the\n"
            "schema, writes STATE_DIR/scheduler.yaml, STATE_DIR/worker.yaml and a random\n"
            "STATE_DIR/token, starts sluice-scheduler and sluice-worker (logs in\n"
            "STATE_DIR/*.log), waits until the scheduler listens and prints the\n"
            "'export SLUICE_DATABASE_URL=...' line that points the CLI at it.\n"
            "Ctrl-C or SIGTERM stops both daemons and the cluster.\n\n"
            "The daemons are found through $SLUICE_SCHEDULER_BIN and $SLUICE_WORKER_BIN,\n"
            "else in $SLUICE_LIBEXEC_DIR, else next to this program (or in its build\n"
            "tree's scheduler/ and worker/ folders), else on PATH.\n\n"
            "Options:\n"
            "  --repo PATH        DAG repository (default: the git repository of the\n"
            "                     current directory)\n"
            "  --path DIR         folder of DAG files in the repository (default: dags)\n"
            "  --state-dir DIR    where everything is kept (default: ./.sluice-standalone)\n"
            "\nExit status: 0 stopped by a signal; 1 something failed to start or a daemon\n"
            "died (its name is printed); 2 usage error.\n",
    .options = standalone_options,
    .run = run_standalone,
};

struct sa_opts {
	const char *repo, *path, *state_dir;
};

#define PG_PORT "5432"
/* The first words of the block sluice appends to postgresql.conf. */
#define SA_CONF_MARKER "# sluice standalone"

struct sa {
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
	pid_t sched, worker;
};

static int on_option(struct cli *cli, int c, const char *arg, void *ctx)
{
	struct sa_opts *o = ctx;

	(void)cli;
	switch (c) {
	case OPT_REPO:
		o->repo = arg;
		break;
	case OPT_PATH:
		o->path = arg;
		break;
	case OPT_STATE_DIR:
		o->state_dir = arg;
		break;
	default:
		return CLI_EXIT_USAGE;
	}
	return 0;
}

static char *join(const char *a, const char *b)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_strbuf_addf(&sb, "%s/%s", a, b);
	return sl_strbuf_detach(&sb, NULL);
}

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
		char *i = join(d, "initdb"), *c = join(d, "pg_ctl");
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

/* A daemon binary: $ENV, $SLUICE_LIBEXEC_DIR, next to /proc/self/exe (or in
 * its build tree), else the bare name for execvp. */
static char *find_daemon(const char *name, const char *env, const char *subdir)
{
	const char *e = getenv(env);
	char exe[PATH_MAX];
	ssize_t n;

	if (e && *e)
		return strdup(e);
	e = getenv("SLUICE_LIBEXEC_DIR");
	if (e && *e) {
		char *p = join(e, name);

		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		struct sl_strbuf sb = SL_STRBUF_INIT;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			sl_strbuf_addf(&sb, "%s/%s", exe, name);
			if (access(sb.buf, X_OK) == 0)
				return sl_strbuf_detach(&sb, NULL);
			sl_strbuf_reset(&sb);
			sl_strbuf_addf(&sb, "%s/../%s/%s", exe, subdir, name);
			if (access(sb.buf, X_OK) == 0)
				return sl_strbuf_detach(&sb, NULL);
		}
		sl_strbuf_release(&sb);
	}
	return strdup(name);
}

/* The root of the git repository holding the current directory. */
static char *git_root(void)
{
	char dir[PATH_MAX];

	if (!getcwd(dir, sizeof(dir)))
		return NULL;
	for (;;) {
		char *g = join(dir, ".git");
		bool found = access(g, F_OK) == 0;
		char *slash;

		free(g);
		if (found)
			return strdup(dir);
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return NULL;
		*slash = '\0';
	}
}

/* Fork and exec argv (as `runas` through runuser when set), output appended
 * to `log`, in its own process group with the caller's signal mask. */
static pid_t spawn(struct sa *sa, const char *const argv[], const char *runas, const char *log)
{
	const char *full[32];
	int n = 0;
	pid_t pid;

	if (runas) {
		full[n++] = "runuser";
		full[n++] = "-u";
		full[n++] = runas;
		full[n++] = "--";
	}
	for (int i = 0; argv[i] && n < 31; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	pid = fork();
	if (pid < 0) {
		cli_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		setpgid(0, 0);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		sigprocmask(SIG_SETMASK, &sa->oldmask, NULL);
		execvp(full[0], (char *const *)full);
		_exit(127);
	}
	return pid;
}

/* Run a command to its end; its exit status, or -1. */
static int run_wait(struct sa *sa, const char *const argv[], const char *runas, const char *log)
{
	int st;
	pid_t pid = spawn(sa, argv, runas, log);

	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void yaml_str(struct sl_strbuf *sb, const char *s)
{
	sl_strbuf_addch(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sl_strbuf_addch(sb, '\\');
		sl_strbuf_addch(sb, *s);
	}
	sl_strbuf_addch(sb, '"');
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
 * Secrets and configs: written whole or not at all, never through a
 * symlink someone left in the state folder, readable by this user only.
 */
static int write_file(const char *path, const char *data)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	char *dir = slash ? sl_xstrndup(path, (size_t)(slash - path)) : sl_xstrdup(".");
	int rc = sl_file_write_atomic(dir, path, data, strlen(data), &err);

	if (rc)
		cli_error("%s", err.buf);
	free(dir);
	sl_strbuf_release(&err);
	return rc ? -1 : 0;
}

static int make_token(const char *path)
{
	unsigned char raw[32];
	char hex[sizeof(raw) * 2 + 2];
	int fd;
	ssize_t n;

	if (access(path, R_OK) == 0)
		return 0;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n != (ssize_t)sizeof(raw))
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	hex[sizeof(raw) * 2] = '\n';
	hex[sizeof(raw) * 2 + 1] = '\0';
	return write_file(path, hex);
}

/*
 * The socket folder STATE/pg: only the server's user may enter it (and
 * root, which ignores modes), so no other local user reaches the socket
 * even before authentication. An older sluice made it 0755: `was_open` is
 * set when it was enterable by others.
 */
static int pg_private_dir(struct sa *sa, bool *was_open)
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
static int pg_write_conf(struct sa *sa, const char *name, const char *content,
                         struct sl_strbuf *old)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *path = join(sa->pgdata, name);
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
static int pg_configure(struct sa *sa, bool *was_open)
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
		char *path = join(sa->pgdata, "postgresql.conf");
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
static int pg_start(struct sa *sa)
{
	char *log = join(sa->state, "postgres.log");
	char *server_log = join(sa->pgdir, "server.log");
	char *version = join(sa->pgdata, "PG_VERSION");
	char *initdb = join(sa->pgbin, "initdb"), *pg_ctl = join(sa->pgbin, "pg_ctl");
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

static void pg_stop(struct sa *sa)
{
	char *log, *pg_ctl;

	if (!sa->pg_started)
		return;
	log = join(sa->state, "postgres.log");
	pg_ctl = join(sa->pgbin, "pg_ctl");
	{
		const char *argv[] = {pg_ctl, "-D", sa->pgdata, "-m", "fast", "-w", "stop", NULL};

		if (run_wait(sa, argv, sa->runas, log) != 0)
			cli_error("pg_ctl stop failed; see %s", log);
	}
	sa->pg_started = false;
	free(log);
	free(pg_ctl);
}

/* Create the database `sluice` when missing, then migrate it. */
static int db_prepare(const char *admin_url, const char *url)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	struct sl_db *db = NULL;
	int rc = -1;

	if (admin_url) {
		if (sl_db_connect(&db, admin_url, &err) < 0 || sl_db_create_sluice(db, &err) < 0)
			goto fail;
		sl_db_free(db);
		db = NULL;
	}
	if (sl_db_connect(&db, url, &err) < 0 || sl_db_migrate(db, NULL, &err) < 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	cli_error("%s", err.buf);
out:
	sl_db_free(db);
	sl_strbuf_release(&err);
	return rc;
}

/* A free TCP port on 127.0.0.1, or 0. */
static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool listening(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A daemon that has exited: its name, else NULL. */
static const char *reap(struct sa *sa)
{
	int st;

	if (sa->sched > 0 && waitpid(sa->sched, &st, WNOHANG) == sa->sched) {
		sa->sched = 0;
		return "sluice-scheduler";
	}
	if (sa->worker > 0 && waitpid(sa->worker, &st, WNOHANG) == sa->worker) {
		sa->worker = 0;
		return "sluice-worker";
	}
	return NULL;
}

/* SIGTERM both daemons and wait for them (20 s, then SIGKILL). */
static void stop_daemons(struct sa *sa)
{
	struct timespec tick = {0, 100 * 1000 * 1000};
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sa->sched > 0)
		kill(sa->sched, SIGTERM);
	if (sa->worker > 0)
		kill(sa->worker, SIGTERM);
	for (int i = 0; i < 200 && (sa->sched > 0 || sa->worker > 0); i++) {
		while (reap(sa))
			;
		if (sa->sched > 0 || sa->worker > 0)
			sigtimedwait(&chld, NULL, &tick);
	}
	if (sa->sched > 0) {
		kill(sa->sched, SIGKILL);
		waitpid(sa->sched, NULL, 0);
	}
	if (sa->worker > 0) {
		kill(sa->worker, SIGKILL);
		waitpid(sa->worker, NULL, 0);
	}
	sa->sched = sa->worker = 0;
}

/*
 * The worker's task_user when standalone runs as root, since a worker run
 * as root refuses to start without one (docs/worker.md): `nobody` when it
 * exists and every folder down to `state` lets other users through (tasks
 * must reach their checkout and work folder below it), else `root`, said
 * here as well as in the worker's log. NULL when not root: tasks then run
 * as the user who started standalone.
 */
static const char *worker_task_user(const char *state)
{
	bool open_path = getpwnam("nobody") != NULL;
	struct stat st;
	char *p;

	if (geteuid() != 0)
		return NULL;
	p = sl_xstrdup(state);
	for (char *s = p + 1; open_path; s++) {
		char c = *s;

		if (c != '/' && c)
			continue;
		*s = '\0';
		open_path = !stat(p, &st) && (st.st_mode & S_IXOTH);
		*s = c;
		if (!c)
			break;
	}
	free(p);
	if (open_path)
		return "nobody";
	fprintf(stderr,
	        "sluice standalone: tasks run as root: user 'nobody' cannot reach %s (a folder "
	        "on the way is closed to other users); with a --state-dir it can reach, they run "
	        "as nobody\n",
	        state);
	return "root";
}

static int run_standalone(struct cli *cli, int argc, char **argv)
{
	struct sa_opts o = {NULL, NULL, NULL};
	struct sa sa;
	struct sl_config cfg;
	struct sl_strbuf url = SL_STRBUF_INIT, admin = SL_STRBUF_INIT, y = SL_STRBUF_INIT;
	struct cli_args args;
	char *repo = NULL, *sched_bin = NULL, *worker_bin = NULL;
	char *sched_yaml = NULL, *worker_yaml = NULL, *token = NULL;
	char *sched_log = NULL, *worker_log = NULL;
	const char *env_url, *dead = NULL;
	struct timespec tick = {0, 100 * 1000 * 1000};
	bool stop, ready = false, signalled = false, masked = false;
	int rc, port;

	memset(&sa, 0, sizeof(sa));
	sl_config_init(&cfg);
	rc = cli_parse_options(cli, &cli_cmd_standalone, argc, argv, on_option, &o, &args, &stop);
	if (!rc && !stop && args.n)
		rc = cli_usage_error(&cli_cmd_standalone, "unexpected argument '%s'", args.v[0]);
	free(args.v);
	if (rc || stop)
		goto out;
	sl_config_release(&cfg);
	rc = cli_config(cli, &cfg);
	if (rc)
		goto out;
	rc = CLI_EXIT_FAILED;

	/* Paths. */
	{
		const char *dir = o.state_dir ? o.state_dir : ".sluice-standalone";
		char abs[PATH_MAX];

		struct sl_strbuf err = SL_STRBUF_INIT;

		if (sl_mkdir_p(dir, 0755, &err) || !realpath(dir, abs)) {
			cli_error("%s", err.len ? err.buf : strerror(errno));
			sl_strbuf_release(&err);
			goto out;
		}
		sl_strbuf_release(&err);
		sa.state = strdup(abs);
	}
	if (o.repo) {
		char abs[PATH_MAX];

		repo = strdup(realpath(o.repo, abs) ? abs : o.repo);
	} else if (!(repo = git_root())) {
		rc = cli_usage_error(
		    &cli_cmd_standalone,
		    "the current directory is not in a git repository: pass --repo");
		goto out;
	}
	sa.pgdir = join(sa.state, "pg");
	sa.pgdata = join(sa.pgdir, "data");
	sched_yaml = join(sa.state, "scheduler.yaml");
	worker_yaml = join(sa.state, "worker.yaml");
	token = join(sa.state, "token");
	sched_log = join(sa.state, "scheduler.log");
	worker_log = join(sa.state, "worker.log");
	sched_bin = find_daemon("sluice-scheduler", "SLUICE_SCHEDULER_BIN", "scheduler");
	worker_bin = find_daemon("sluice-worker", "SLUICE_WORKER_BIN", "worker");

	/* From here on signals wait for sigtimedwait. */
	sigemptyset(&sa.sigs);
	sigaddset(&sa.sigs, SIGINT);
	sigaddset(&sa.sigs, SIGTERM);
	sigaddset(&sa.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &sa.sigs, &sa.oldmask);
	masked = true;

	/* The database. */
	env_url = getenv("SLUICE_DATABASE_URL");
	if (env_url && *env_url) {
		sl_strbuf_adds(&url, env_url);
	} else if (cfg.database_url && *cfg.database_url) {
		sl_strbuf_adds(&url, cfg.database_url);
	} else {
		struct sockaddr_un un;

		if (strlen(sa.pgdir) + sizeof("/.s.PGSQL." PG_PORT) > sizeof(un.sun_path)) {
			cli_error("%s: too long a path for PostgreSQL's socket: use a shorter "
			          "--state-dir",
			          sa.pgdir);
			goto out;
		}
		sa.pgbin = find_pgbin();
		if (!sa.pgbin) {
			cli_error("no PostgreSQL server binaries (initdb, pg_ctl): install "
			          "postgresql, or set SLUICE_DATABASE_URL");
			goto out;
		}
		if (geteuid() == 0) {
			struct passwd *pw = getpwnam("postgres");

			if (!pw) {
				cli_error("running as root and there is no 'postgres' user to run "
				          "PostgreSQL as");
				goto out;
			}
			sa.runas = strdup("postgres");
			sa.pg_uid = pw->pw_uid;
			sa.pg_gid = pw->pw_gid;
		}
		sa.client = client_name();
		if (!sa.client)
			goto out;
		if (pg_start(&sa))
			goto out;
		sl_strbuf_adds(&admin, "host=");
		conn_str(&admin, sa.pgdir);
		sl_strbuf_adds(&admin, " port=" PG_PORT " user=postgres dbname=postgres");
		sl_strbuf_adds(&url, "host=");
		conn_str(&url, sa.pgdir);
		sl_strbuf_adds(&url, " port=" PG_PORT " user=postgres dbname=sluice");
	}
	if (db_prepare(admin.len ? admin.buf : NULL, url.buf))
		goto out;

	/* The daemons' files. */
	port = free_port();
	if (!port || make_token(token)) {
		cli_error("cannot pick a port or write %s", token);
		goto out;
	}
	sl_strbuf_adds(&y, "# written by sluice standalone\ndags:\n  repo: ");
	yaml_str(&y, repo);
	sl_strbuf_adds(&y, "\n  path: ");
	yaml_str(&y, o.path ? o.path : "dags");
	sl_strbuf_adds(&y, "\n  poll_interval: 5s\ndatabase_url: ");
	yaml_str(&y, url.buf);
	sl_strbuf_adds(&y, "\nstate_dir: ");
	{
		char *d = join(sa.state, "scheduler");

		yaml_str(&y, d);
		free(d);
	}
	sl_strbuf_addf(&y, "\nlisten: 127.0.0.1:%d\ntoken_file: ", port);
	yaml_str(&y, token);
	sl_strbuf_addch(&y, '\n');
	if (write_file(sched_yaml, y.buf))
		goto out;
	sl_strbuf_reset(&y);
	sl_strbuf_addf(
	    &y, "# written by sluice standalone\nscheduler: 127.0.0.1:%d\ntoken_file: ", port);
	yaml_str(&y, token);
	sl_strbuf_adds(&y, "\nname: standalone\nstate_dir: ");
	{
		char *d = join(sa.state, "worker");
		const char *task_user = worker_task_user(sa.state);

		yaml_str(&y, d);
		free(d);
		if (task_user)
			sl_strbuf_addf(&y, "\ntask_user: %s", task_user);
	}
	sl_strbuf_addch(&y, '\n');
	if (write_file(worker_yaml, y.buf))
		goto out;

	/* The daemons. */
	{
		const char *sargv[] = {sched_bin, "--config", sched_yaml, NULL};
		const char *wargv[] = {worker_bin, "--config", worker_yaml, NULL};

		sa.sched = spawn(&sa, sargv, NULL, sched_log);
		if (sa.sched < 0)
			goto out;
		sa.worker = spawn(&sa, wargv, NULL, worker_log);
		if (sa.worker < 0)
			goto out;
	}

	/* Until the scheduler listens (30 s), then until a signal. */
	for (int i = 0;; i++) {
		int sig = sigtimedwait(&sa.sigs, NULL, ready ? NULL : &tick);

		if (sig == SIGINT || sig == SIGTERM) {
			signalled = true;
			break;
		}
		if ((dead = reap(&sa)))
			break;
		if (!ready && listening(port)) {
			ready = true;
			printf("sluice standalone: scheduler on 127.0.0.1:%d, worker 'standalone'; "
			       "state and logs in %s\n",
			       port, sa.state);
			printf("Point the CLI at it with:\n");
			printf("export SLUICE_DATABASE_URL='");
			for (const char *s = url.buf; *s; s++)
				if (*s == '\'')
					fputs("'\\''", stdout);
				else
					putchar(*s);
			printf("'\nPress Ctrl-C to stop.\n");
			fflush(stdout);
		}
		if (!ready && i >= 300) {
			cli_error("sluice-scheduler is not listening after 30 s; see %s",
			          sched_log);
			break;
		}
	}
	if (signalled) {
		fprintf(stderr, "sluice standalone: stopping\n");
		rc = CLI_EXIT_OK;
	} else if (dead) {
		cli_error("%s exited; stopping everything (see %s)", dead,
		          strcmp(dead, "sluice-worker") ? sched_log : worker_log);
	}
out:
	stop_daemons(&sa);
	pg_stop(&sa);
	if (masked)
		sigprocmask(SIG_SETMASK, &sa.oldmask, NULL);
	free(sa.state);
	free(sa.pgdir);
	free(sa.pgdata);
	free(sa.pgbin);
	free(sa.runas);
	free(sa.client);
	free(repo);
	free(sched_bin);
	free(worker_bin);
	free(sched_yaml);
	free(worker_yaml);
	free(token);
	free(sched_log);
	free(worker_log);
	sl_strbuf_release(&url);
	sl_strbuf_release(&admin);
	sl_strbuf_release(&y);
	sl_config_release(&cfg);
	return rc;
}
