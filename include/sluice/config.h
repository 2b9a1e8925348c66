#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/diag.h"
#include "sluice/strbuf.h"

/**
 * The configuration file shared by `sluice` and `sluice-scheduler`
 * (docs/scheduler.md), read as strictly as a DAG file: unknown keys (with a "did you
 * mean"), wrong types and bad durations are diagnostics at file:line:col.
 *
 *     database_url: postgresql:///sluice      # optional; SLUICE_DATABASE_URL wins
 *     dags:
 *       repo: /srv/dags.git                   # a path, file://, https:// or ssh URL
 *       branch: main                          # default: the remote's HEAD, else main
 *       path: dags                            # folder inside the repository; default root
 *       poll_interval: 60s                    # default 60s
 *     state_dir: /var/lib/sluice              # mirrors and caches; default /var/lib/sluice
 *     listen: 127.0.0.1:7411
 *     token_file: /etc/sluice/token
 *     parallelism: 32
 *     heartbeat_timeout: 8s                   # T; heartbeats every T/8, worker lease 3T/8
 *     log_limit: 10485760                     # bytes per attempt
 *     hello_timeout: 5s                       # a connection's time to send a valid HELLO
 *     max_connections: 1024                   # worker connections at once (docs/security.md)
 *     tls:                                    # TLS 1.3 for the workers (docs/security.md)
 *       cert: /etc/sluice/scheduler.pem       # its certificate chain, PEM
 *       key: /etc/sluice/scheduler.key        # its private key, PEM
 *     insecure: false                         # true: clear text off loopback too
 *     retention: 90d                          # delete runs that ended longer ago; default off
 *     metrics_listen: 127.0.0.1:9411          # GET /metrics (docs/metrics.md); default off
 *     metrics_insecure: false                 # true: metrics_listen off loopback too
 *     web:                                    # sluice-web (docs/web.md)
 *       listen: 127.0.0.1:7412                # default 127.0.0.1:7412
 *       base_url: https://sluice.example.com  # the URL users reach it at; optional
 *       tls_cert: /etc/sluice/web.pem         # HTTPS: its certificate chain, PEM
 *       tls_key: /etc/sluice/web.key          # and its private key; both or neither
 *       insecure: false                       # true: clear text off loopback
 *       database_url: "dbname=sluice user=web" # its own role (sluice_web); default database_url
 *
 * `listen` must be a loopback address (127.0.0.0/8, ::1, localhost) unless
 * `tls` or `insecure: true` is set: a problem at its file:line:col else.
 * `web.listen` likewise must be loopback unless `web.tls_cert` and
 * `web.tls_key` or `web.insecure: true` are set. `metrics_listen` (here
 * and in the worker's file) must be host:port, and loopback unless
 * `metrics_insecure: true` is set: /metrics has neither TLS nor
 * authentication.
 *
 * Every string member is NULL when the file does not set it, except where a
 * default is given in the comment of the member.
 */
/** sluice-web's address unless `web.listen` says otherwise (the two agree). */
#define SL_WEB_DEFAULT_PORT   7412
#define SL_WEB_DEFAULT_LISTEN "127.0.0.1:7412"

struct sl_config {
	char *file; /* the file read, or NULL when built from defaults only */
	char *database_url;
	char *dags_repo;
	char *dags_branch;          /* NULL: the remote's HEAD, else "main" */
	char *dags_path;            /* "" (the repository root) by default */
	int64_t dags_poll_interval; /* seconds, default 60 */
	char *state_dir;            /* default "/var/lib/sluice" */
	char *listen;               /* default "127.0.0.1:7411" */
	char *token_file;
	int parallelism;           /* default 32 */
	int64_t heartbeat_timeout; /* seconds, default 8 (docs/scheduler.md) */
	int64_t log_limit;         /* bytes, default 10 MiB */
	int64_t hello_timeout;     /* seconds, default 5 (docs/security.md) */
	int max_connections;       /* default 1024 */
	char *tls_cert, *tls_key;  /* both or neither: NULL, clear text */
	bool insecure;             /* clear text allowed off loopback; default false */
	int64_t retention;         /* seconds; 0 (the default): runs are kept forever */
	char *web_listen;          /* default "127.0.0.1:7412" */
	char *web_base_url;        /* NULL unless set */
	char *web_tls_cert;        /* both or neither: NULL, clear text */
	char *web_tls_key;
	bool web_insecure;      /* clear text allowed off loopback; default false */
	char *web_database_url; /* sluice-web's own role; NULL: database_url */
	char *metrics_listen;   /* NULL (the default): no /metrics */
	bool metrics_insecure;  /* metrics_listen allowed off loopback; default false */
};

#define SL_CONFIG_DEFAULT_PATH "/etc/sluice/sluice.yaml"

/** Set every member to its default. Allocates (release with sl_config_release). */
void sl_config_init(struct sl_config *cfg);
void sl_config_release(struct sl_config *cfg);

/**
 * Read `path` over the defaults in `cfg` (call sl_config_init first).
 * Returns 0, or SL_EINVAL/SL_ERR with every problem in `diags`; `cfg` then
 * holds the defaults and whatever valid values were read.
 */
int sl_config_load(struct sl_config *cfg, const char *path, struct sl_diags *diags);

/** A pinned certificate fingerprint: SHA-256, in bytes. */
#define SL_CONFIG_FINGERPRINT_LEN 32

/**
 * The worker's configuration file (docs/worker.md), read with the
 * same strictness as sl_config:
 *
 *     scheduler: sched1:7411                  # or a list [a:7411, b:7411]; required
 *     token_file: /etc/sluice/token           # required
 *     name: w1                                # default: the host name
 *     slots: 4                                # default 1
 *     queues: [default, gpu]                  # default [default]
 *     state_dir: /var/lib/sluice-worker       # result store and work dirs
 *     repo: https://git.example.com/dags.git  # optional fetch override
 *     grace: 60s                              # SIGTERM grace period, default 60s
 *     checkout_max_age: 7d                    # prune checkouts unused this long
 *     checkout_max_bytes: 5368709120          # and beyond this size (5 GiB)
 *     tls:                                    # verify the scheduler (docs/security.md)
 *       ca: /etc/sluice/ca.pem                # CA certificates, PEM; host name checked
 *       fingerprint: "sha256:AB:CD:..."       # or/and its certificate's SHA-256
 *     insecure: false                         # true: clear text off loopback too
 *     retention: 90d                          # delete runs that ended longer ago; default off
 *     task_user: sluice-task                  # who tasks run as; default the worker's user
 *     metrics_listen: 127.0.0.1:9412          # GET /metrics (docs/metrics.md); default off
 *     metrics_insecure: false                 # true: metrics_listen off loopback too
 *
 * `scheduler` entries are `host:port` or `[v6addr]:port`; `name` and queue
 * names are protocol ids ([A-Za-z0-9_.-], 1 to 200 characters). Every
 * `scheduler` entry must be loopback (127.0.0.0/8, ::1, localhost) unless
 * `tls` or `insecure: true` is set. `tls` needs `ca`, `fingerprint` or
 * both (then both must hold); a fingerprint is 32 bytes in hex, with or
 * without colons, in either case, after an optional "sha256:". `task_user`
 * is a user name ([A-Za-z0-9_.-], not starting with '-', 1 to 32
 * characters); the loader checks only its form and keeps where it was
 * written, because the user is looked up where the worker starts, not
 * where the file is checked (docs/worker.md).
 */
struct sl_worker_config {
	char *file;        /* the file read, or NULL */
	char **schedulers; /* "host:port", in the order to try them */
	size_t schedulers_nr, schedulers_alloc;
	char *token_file; /* NULL unless set */
	char *name;       /* default: the host name (or "worker") */
	int slots;        /* default 1 */
	char **queues;    /* default {"default"} */
	size_t queues_nr, queues_alloc;
	char *state_dir;            /* default "/var/lib/sluice-worker" */
	char *repo;                 /* NULL unless set */
	int64_t grace;              /* seconds, default 60 */
	int64_t checkout_max_age;   /* seconds, default 7 days */
	int64_t checkout_max_bytes; /* default 5 GiB */
	char *task_user;            /* NULL unless set */
	unsigned task_user_line;    /* where its value is written, for start-up errors */
	unsigned task_user_column;
	bool tls;        /* `tls` is set: verify the scheduler */
	char *tls_ca;    /* NULL unless set */
	bool tls_pinned; /* tls_fingerprint holds a pin */
	unsigned char tls_fingerprint[SL_CONFIG_FINGERPRINT_LEN];
	bool insecure;         /* clear text allowed off loopback; default false */
	char *metrics_listen;  /* NULL (the default): no /metrics */
	bool metrics_insecure; /* metrics_listen allowed off loopback; default false */
};

#define SL_WORKER_CONFIG_DEFAULT_PATH "/etc/sluice/worker.yaml"

/** Set every member to its default. Allocates (release with sl_worker_config_release). */
void sl_worker_config_init(struct sl_worker_config *cfg);
void sl_worker_config_release(struct sl_worker_config *cfg);

/**
 * Read `path` over the defaults in `cfg`. Returns 0, or SL_EINVAL/SL_ERR
 * with every problem in `diags` (file:line:col); a missing `scheduler` or
 * `token_file` is a problem too.
 */
int sl_worker_config_load(struct sl_worker_config *cfg, const char *path, struct sl_diags *diags);

/**
 * Split "host:port" or "[v6]:port" into a new host string and a port
 * 1..65535. Returns 0, or SL_EINVAL with a sentence in `err`.
 */
int sl_hostport_parse(const char *s, char **host, int *port, struct sl_strbuf *err);

/**
 * Whether `host` (a host part of sl_hostport_parse) is this machine's
 * loopback: "localhost", an IPv4 address in 127.0.0.0/8, or ::1 (and
 * ::ffff:127.x.y.z). Names are not resolved: any other name is not.
 */
bool sl_host_is_loopback(const char *host);

#endif
