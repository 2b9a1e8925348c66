#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdint.h>

#include "sluice/diag.h"

/**
 * The configuration file shared by `sluice` and `sluice-scheduler`
 * (SPEC §5), read as strictly as a DAG file: unknown keys (with a "did you
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
 *     heartbeat_timeout: 30s
 *     log_limit: 10485760                     # bytes per attempt
 *
 * Every string member is NULL when the file does not set it, except where a
 * default is given in the comment of the member.
 */
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
	int64_t heartbeat_timeout; /* seconds, default 30 */
	int64_t log_limit;         /* bytes, default 10 MiB */
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

#endif
