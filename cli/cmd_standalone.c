/*
 * sluice standalone: everything on one machine. A private PostgreSQL
 * cluster under STATE_DIR/pg (unless a database is configured), the schema
 * migrated in-process, then sluice-scheduler, sluice-worker and sluice-web as child
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sluice/accounts.h"
#include "sluice/admin.h"
#include "sluice/alloc.h"
#include "sluice/config.h"
#include "sluice/credentials.h"
#include "sluice/db.h"
#include "sluice/fsutil.h"
#include "sluice/strbuf.h"
#include "standalone_file.h"
#include "standalone_pg.h"
#include "sluice/banned.h"

static int run_standalone(struct cli *cli, int argc, char **argv);

/* The worker's `grace` in seconds: how long Ctrl-C lets running tasks go on. */
#define WORKER_GRACE 10

enum {
	OPT_REPO = CLI_OPT_BASE,
	OPT_PATH,
	OPT_STATE_DIR,
	OPT_SLOTS,
};

static const struct option standalone_options[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"path", required_argument, NULL, OPT_PATH},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"slots", required_argument, NULL, OPT_SLOTS},
    {NULL, 0, NULL, 0},
};

const struct cli_command cli_cmd_standalone = {
    .path = "standalone",
    .usage = "[--repo PATH] [--path DIR] [--state-dir DIR] [--slots N]",
    .summary = "Run PostgreSQL, a scheduler and a worker on this machine until Ctrl-C.",
    .help = "When no database is configured ($SLUICE_DATABASE_URL, database_url), creates\n"
            "a private PostgreSQL cluster in STATE_DIR/pg on first use (initdb from the\n"
            "newest /usr/lib/postgresql/*/bin) and starts it: unix socket only, in\n"
            "STATE_DIR/pg (mode 0700), peer authentication for the user running this\n"
            "command and nobody else, fsync on; as root the server runs as the\n"
            "'postgres' user. A cluster made by an older sluice is brought to the same\n"
            "settings at its next start. Then migrates the\n"
            "schema, gives the web account 'admin' a new random password, writes\n"
            "STATE_DIR/scheduler.yaml, worker.yaml, web.yaml and a random token,\n"
            "starts sluice-scheduler, sluice-worker and sluice-web (on 127.0.0.1:7412\n"
            "when free; logs in STATE_DIR/*.log), waits until they listen, records the database\n"
            "in ${XDG_STATE_HOME:-~/.local/state}/sluice/standalone (mode 0600), where\n"
            "the other commands find it when no database is configured, and prints the\n"
            "'export SLUICE_DATABASE_URL=...' line for other users of it, and the web's\n"
            "URL and admin password.\n"
            "The scheduler's port is chosen once and kept in STATE_DIR/port, so external\n"
            "workers find it again after a restart; when another program holds it, a\n"
            "new one is chosen and said on stderr.\n"
            "Ctrl-C or SIGTERM stops the web, the worker (running tasks get 10 s, then are\n"
            "cancelled and retried at the next start), the scheduler and the cluster,\n"
            "and removes the file.\n\n"
            "The daemons are found through $SLUICE_SCHEDULER_BIN, $SLUICE_WORKER_BIN and\n"
            "$SLUICE_WEB_BIN, else in $SLUICE_LIBEXEC_DIR, else next to this program (or\n"
            "in its build tree's scheduler/, worker/ and web/ folders), else on PATH.\n\n"
            "Options:\n"
            "  --repo PATH        DAG repository (default: the git repository of the\n"
            "                     current directory)\n"
            "  --path DIR         folder of DAG files in the repository (default: dags)\n"
            "  --state-dir DIR    where everything is kept (default: ./.sluice-standalone)\n"
            "  --slots N          tasks the worker runs at once, 1 to 65535 (default: the\n"
            "                     number of CPUs)\n"
            "\nExit status: 0 stopped by a signal; 1 something failed to start or a daemon\n"
            "died (its name is printed); 2 usage error.\n",
    .options = standalone_options,
    .run = run_standalone,
};

struct sa_opts {
	const char *repo, *path, *state_dir;
	long slots;
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
	case OPT_SLOTS: {
		char *end;

		errno = 0;
		o->slots = strtol(arg, &end, 10);
		/* The worker's own bounds (docs/worker.md). */
		if (errno || end == arg || *end || o->slots < 1 || o->slots > 65535)
			return cli_usage_error(
			    &cli_cmd_standalone,
			    "--slots %s: expected a whole number from 1 to 65535", arg);
		break;
	}
	default:
		return CLI_EXIT_USAGE;
	}
	return 0;
}

char *standalone_join(const char *a, const char *b)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	sl_strbuf_addf(&sb, "%s/%s", a, b);
	return sl_strbuf_detach(&sb, NULL);
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
		char *p = standalone_join(e, name);

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
		char *g = standalone_join(dir, ".git");
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
pid_t standalone_spawn(struct standalone *sa, const char *const argv[], const char *runas,
                       const char *log)
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
 * Create the database `sluice` when missing, then migrate it, and give the
 * web's account `admin` a new random password (`password`, printed once).
 */
static int db_prepare(const char *admin_url, const char *url, char password[SL_SECRET_B64_LEN + 1])
{
	struct sl_strbuf err = SL_STRBUF_INIT, actor = SL_STRBUF_INIT;
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
	cli_actor(&actor);
	if (sl_secret_generate("", password, SL_SECRET_B64_LEN + 1, &err) ||
	    sl_user_put(db, &(struct sl_actor){actor.buf, "cli"}, "admin", SL_ROLE_ADMIN, password,
	                strlen(password), &err))
		goto fail;
	rc = 0;
	goto out;
fail:
	cli_error("%s", err.buf);
out:
	sl_db_free(db);
	sl_strbuf_release(&actor);
	sl_strbuf_release(&err);
	return rc;
}

/*
 * `want` on 127.0.0.1 when it is free (0: any free port): the port, or 0.
 * SO_REUSEADDR as the scheduler's libuv listener has it, so connections of
 * the last run still in TIME_WAIT do not count as taken.
 */
static int free_port(int want)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0, on = 1;

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)want);
	if (!setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) &&
	    !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * The scheduler's port, stable across restarts so that workers started by
 * hand find it again: the one kept in `file` when it is still free, else a
 * new one (said on stderr when it replaces a kept one), written there. 0
 * when none could be had.
 */
static int stable_port(const char *file)
{
	struct sl_strbuf sb = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	int kept = 0, port = 0;
	char line[16];

	if (!sl_strbuf_read_file(&sb, file, 64, &err)) {
		char *end;
		long v = strtol(sb.buf, &end, 10);

		if (end != sb.buf && (*end == '\n' || !*end) && v > 0 && v <= 65535)
			kept = (int)v;
	}
	if (kept)
		port = free_port(kept);
	if (!port) {
		port = free_port(0);
		if (kept && port)
			fprintf(
			    stderr,
			    "sluice standalone: port %d kept in %s is taken by another program; "
			    "the scheduler now listens on %d: workers started by hand must be "
			    "pointed at it\n",
			    kept, file, port);
	}
	snprintf(line, sizeof(line), "%d\n", port);
	if (port && port != kept && write_file(file, line))
		port = 0;
	sl_strbuf_release(&sb);
	sl_strbuf_release(&err);
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
static const char *reap(struct standalone *sa)
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
	if (sa->web > 0 && waitpid(sa->web, &st, WNOHANG) == sa->web) {
		sa->web = 0;
		return "sluice-web";
	}
	return NULL;
}

/* SIGTERM `*pid` and wait for it (`secs`, then SIGKILL). */
static void stop_daemon(struct standalone *sa, pid_t *pid, int secs)
{
	struct timespec tick = {0, 100 * 1000 * 1000};
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (*pid > 0)
		kill(*pid, SIGTERM);
	for (int i = 0; i < secs * 10 && *pid > 0; i++) {
		while (reap(sa))
			;
		if (*pid > 0)
			sigtimedwait(&chld, NULL, &tick);
	}
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/*
 * The web first (it only serves), then the worker, while the scheduler still listens: it lets
 * running tasks finish for WORKER_GRACE, cancels the rest (SIGKILL 10 s after their SIGTERM), and
 * sends the results, which the scheduler records (a cancelled attempt is retried at the next start
 * as its retries allow). Killing it before that would leave its tasks running unsupervised.
 */
static void stop_daemons(struct standalone *sa)
{
	stop_daemon(sa, &sa->web, 20);
	stop_daemon(sa, &sa->worker, WORKER_GRACE + 20);
	stop_daemon(sa, &sa->sched, 20);
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

/*
 * Record the database where the other commands of this user look when none
 * is configured (standalone_file.h); `record` keeps what was written, to
 * remove it at the stop, and is left empty when it could not be written
 * (said on stderr: the export line still works).
 */
static void record_database(struct sl_strbuf *record, const char *url, const char *state)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *path = standalone_file_path();

	sl_strbuf_addf(record,
	               "# sluice standalone (pid %ld, state %s); removed when it stops\n%s\n",
	               (long)getpid(), state, url);
	if (standalone_file_write(record->buf, &err)) {
		fprintf(stderr,
		        "sluice standalone: other commands will not find it without the export "
		        "line: %s\n",
		        err.buf);
		sl_strbuf_reset(record);
	} else {
		printf("Commands of this user find it through %s.\n", path);
	}
	free(path);
	sl_strbuf_release(&err);
}

static int run_standalone(struct cli *cli, int argc, char **argv)
{
	struct sa_opts o = {NULL, NULL, NULL, 0};
	struct standalone sa;
	struct sl_config cfg;
	struct sl_strbuf url = SL_STRBUF_INIT, admin = SL_STRBUF_INIT, y = SL_STRBUF_INIT;
	struct sl_strbuf record = SL_STRBUF_INIT;
	struct cli_args args;
	char *repo = NULL, *sched_bin = NULL, *worker_bin = NULL;
	char *sched_yaml = NULL, *worker_yaml = NULL, *token = NULL, *port_file = NULL;
	char *sched_log = NULL, *worker_log = NULL;
	char *web_bin = NULL, *web_yaml = NULL, *web_log = NULL;
	char password[SL_SECRET_B64_LEN + 1];
	const char *env_url, *dead = NULL;
	struct timespec tick = {0, 100 * 1000 * 1000};
	bool stop, ready = false, signalled = false, masked = false;
	int rc, port, web_port;

	memset(&sa, 0, sizeof(sa));
	sl_config_init(&cfg);
	rc = cli_parse_options(cli, &cli_cmd_standalone, argc, argv, on_option, &o, &args, &stop);
	if (!rc && !stop && args.n)
		rc = cli_usage_error(&cli_cmd_standalone, "unexpected argument '%s'", args.v[0]);
	free(args.v);
	if (rc || stop)
		goto out;
	if (!o.slots) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		o.slots = cpus > 0 ? cpus : 1;
	}
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
	sched_yaml = standalone_join(sa.state, "scheduler.yaml");
	worker_yaml = standalone_join(sa.state, "worker.yaml");
	token = standalone_join(sa.state, "token");
	port_file = standalone_join(sa.state, "port");
	sched_log = standalone_join(sa.state, "scheduler.log");
	worker_log = standalone_join(sa.state, "worker.log");
	sched_bin = find_daemon("sluice-scheduler", "SLUICE_SCHEDULER_BIN", "scheduler");
	worker_bin = find_daemon("sluice-worker", "SLUICE_WORKER_BIN", "worker");
	web_yaml = standalone_join(sa.state, "web.yaml");
	web_log = standalone_join(sa.state, "web.log");
	web_bin = find_daemon("sluice-web", "SLUICE_WEB_BIN", "web");

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
	} else if (standalone_pg_start(&sa, &admin, &url)) {
		goto out;
	}
	if (db_prepare(admin.len ? admin.buf : NULL, url.buf, password))
		goto out;

	/* The daemons' files. */
	port = stable_port(port_file);
	if (!port || make_token(token)) {
		cli_error("cannot pick a port (%s) or write %s", port_file, token);
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
		char *d = standalone_join(sa.state, "scheduler");

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
	/* A grace well inside stop_daemons' deadline: Ctrl-C stops in seconds
	 * and the worker reports what it cancelled before it is killed. */
	sl_strbuf_addf(&y, "\nname: standalone\nslots: %ld\ngrace: %ds\nstate_dir: ", o.slots,
	               WORKER_GRACE);
	{
		char *d = standalone_join(sa.state, "worker");
		const char *task_user = worker_task_user(sa.state);

		yaml_str(&y, d);
		free(d);
		if (task_user)
			sl_strbuf_addf(&y, "\ntask_user: %s", task_user);
	}
	sl_strbuf_addch(&y, '\n');
	if (write_file(worker_yaml, y.buf))
		goto out;
	/* The web's usual port when it is free, so that a bookmark keeps working. */
	if (!(web_port = free_port(SL_WEB_DEFAULT_PORT)) && !(web_port = free_port(0))) {
		cli_error("cannot find a free port for sluice-web");
		goto out;
	}
	sl_strbuf_reset(&y);
	sl_strbuf_adds(&y, "# written by sluice standalone\ndatabase_url: ");
	yaml_str(&y, url.buf);
	sl_strbuf_addf(&y, "\nweb:\n  listen: 127.0.0.1:%d\n", web_port);
	if (write_file(web_yaml, y.buf))
		goto out;

	/* The daemons. */
	{
		const char *sargv[] = {sched_bin, "--config", sched_yaml, NULL};
		const char *wargv[] = {worker_bin, "--config", worker_yaml, NULL};
		const char *webargv[] = {web_bin, "--config", web_yaml, NULL};

		sa.sched = standalone_spawn(&sa, sargv, NULL, sched_log);
		if (sa.sched < 0)
			goto out;
		sa.worker = standalone_spawn(&sa, wargv, NULL, worker_log);
		if (sa.worker < 0)
			goto out;
		sa.web = standalone_spawn(&sa, webargv, NULL, web_log);
		if (sa.web < 0)
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
		if (!ready && listening(port) && listening(web_port)) {
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
			printf("'\n");
			printf("Web UI and API on http://127.0.0.1:%d/ - sign in as admin with the "
			       "password %s (new at each start; API tokens: sluice tokens create "
			       "admin)\n",
			       web_port, password);
			record_database(&record, url.buf, sa.state);
			printf("Press Ctrl-C to stop.\n");
			fflush(stdout);
		}
		if (!ready && i >= 300) {
			cli_error("%s is not listening after 30 s; see %s",
			          listening(port) ? "sluice-web" : "sluice-scheduler",
			          listening(port) ? web_log : sched_log);
			break;
		}
	}
	if (signalled) {
		fprintf(stderr, "sluice standalone: stopping\n");
		rc = CLI_EXIT_OK;
	} else if (dead) {
		cli_error("%s exited; stopping everything (see %s)", dead,
		          !strcmp(dead, "sluice-worker") ? worker_log
		          : !strcmp(dead, "sluice-web")  ? web_log
		                                         : sched_log);
	}
out:
	if (record.len)
		standalone_file_remove(record.buf);
	stop_daemons(&sa);
	standalone_pg_stop(&sa);
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
	free(port_file);
	free(sched_log);
	free(worker_log);
	free(web_bin);
	free(web_yaml);
	free(web_log);
	sl_strbuf_release(&url);
	sl_strbuf_release(&admin);
	sl_strbuf_release(&y);
	sl_strbuf_release(&record);
	sl_config_release(&cfg);
	return rc;
}
