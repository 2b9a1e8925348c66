#include "sluice/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/url.h"
#include "sluice/yaml_doc.h"
#include "sluice/yschema.h"
#include "sluice/banned.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

void sl_config_init(struct sl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dags_path = sl_xstrdup("");
	cfg->dags_poll_interval = 60;
	cfg->state_dir = sl_xstrdup("/var/lib/sluice");
	cfg->listen = sl_xstrdup("127.0.0.1:7411");
	cfg->parallelism = 32;
	cfg->heartbeat_timeout = 8;
	cfg->log_limit = 10 * 1024 * 1024;
	cfg->hello_timeout = 5;
	cfg->max_connections = 1024;
	cfg->web_listen = sl_xstrdup(SL_WEB_DEFAULT_LISTEN);
}

void sl_config_release(struct sl_config *cfg)
{
	free(cfg->file);
	free(cfg->database_url);
	free(cfg->dags_repo);
	free(cfg->dags_branch);
	free(cfg->dags_path);
	free(cfg->state_dir);
	free(cfg->listen);
	free(cfg->token_file);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->web_listen);
	free(cfg->web_base_url);
	free(cfg->web_tls_cert);
	free(cfg->web_tls_key);
	free(cfg->web_database_url);
	free(cfg->metrics_listen);
	memset(cfg, 0, sizeof(*cfg));
}

static const struct sl_ykey dags_keys[] = {
    SL_YKEY_STRING("repo", struct sl_config, dags_repo, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("branch", struct sl_config, dags_branch, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("path", struct sl_config, dags_path, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_DURATION("poll_interval", struct sl_config, dags_poll_interval, SL_YKEY_POSITIVE),
};

static bool read_dags(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	static const struct sl_yschema schema = {dags_keys, SL_ARRAY_SIZE(dags_keys), NULL};
	const struct sl_yscope scope = {.where = name, .prefix = "dags."};

	return sl_yschema_read(r, &schema, &scope, v, out, NULL) == 0;
}

static const struct sl_ykey sched_tls_keys[] = {
    SL_YKEY_STRING("cert", struct sl_config, tls_cert, SL_YKEY_REQUIRED, NULL),
    SL_YKEY_STRING("key", struct sl_config, tls_key, SL_YKEY_REQUIRED, NULL),
};

static bool read_sched_tls(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                           void *out)
{
	static const struct sl_yschema schema = {sched_tls_keys, SL_ARRAY_SIZE(sched_tls_keys),
	                                         NULL};
	const struct sl_yscope scope = {.where = name, .prefix = "tls."};
	struct sl_config *cfg = out;

	if (sl_yschema_read(r, &schema, &scope, v, out, NULL) == 0)
		return true;
	/* Both or neither: half a pair would start without TLS. */
	free(cfg->tls_cert);
	free(cfg->tls_key);
	cfg->tls_cert = cfg->tls_key = NULL;
	return false;
}

/*
 * Checked once the whole file is read, with where each key was: rules
 * between keys.
 */
typedef void (*check_fn)(struct sl_yreader *r, const struct sl_yschema *schema,
                         const struct sl_yfound *found, void *cfg);

/*
 * Read PATH, a YAML mapping of settings, with SCHEMA into CFG, then CHECK
 * it if the file had no problem; every problem goes to the reader's
 * diagnostics. *FILE becomes PATH.
 */
static int load_file(struct sl_yreader *r, char **file, const struct sl_yschema *schema,
                     check_fn check, void *cfg)
{
	struct sl_yfound found;
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	const struct sl_yscope scope = {0};
	struct sl_ydoc *doc = NULL;
	const struct sl_ynode *root;
	int rc = sl_strbuf_read_file(&data, r->file, CONFIG_MAX_SIZE, &err);

	if (rc) {
		sl_diags_add(r->diags, r->file, 1, 1, "%s", err.buf);
		goto out;
	}
	free(*file);
	*file = sl_xstrdup(r->file);
	rc = sl_ydoc_parse(&doc, r->file, data.buf, data.len, r->diags);
	if (!doc)
		goto out;
	root = sl_ynode_deref(sl_ydoc_root(doc));
	/* An empty file is an empty mapping: the defaults, and any required key missing. */
	if (root->kind == SL_YNODE_MAPPING || sl_ynode_is(root, SL_YTYPE_NULL)) {
		if (sl_yschema_read(r, schema, &scope, root, cfg, &found) == 0 && !r->problems)
			check(r, schema, &found, cfg);
	} else
		sl_yreader_type_error(r, NULL, root, "a mapping of settings");
	if (r->problems)
		rc = SL_EINVAL;
out:
	sl_ydoc_free(doc);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	return rc;
}

bool sl_host_is_loopback(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) != 1)
		return false;
	if (!memcmp(a, v4mapped, sizeof(v4mapped)))
		return a[12] == 127;
	for (size_t i = 0; i < 15; i++)
		if (a[i])
			return false;
	return a[15] == 1;
}

/* The value node of key NAME of SCHEMA, as FOUND saw it, or NULL. */
static const struct sl_ynode *found_value(const struct sl_yschema *schema,
                                          const struct sl_yfound *found, const char *name)
{
	for (size_t i = 0; i < schema->nr; i++)
		if (!strcmp(schema->keys[i].name, name))
			return found->pairs[i] ? found->pairs[i]->value : NULL;
	return NULL;
}

/* Whether "host:port" names a loopback host (a bad one is reported elsewhere). */
static bool hostport_loopback(const char *hostport)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *host = NULL;
	int port;
	bool loopback = true;

	if (!sl_hostport_parse(hostport, &host, &port, &err))
		loopback = sl_host_is_loopback(host);
	free(host);
	sl_strbuf_release(&err);
	return loopback;
}

/* A listen address of the file: host:port, else a problem at its value. */
static bool check_listen(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                         void *out)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *host = NULL;
	int port;
	bool ok = sl_hostport_parse(sl_ynode_deref(v)->u.scalar.text, &host, &port, &err) == 0;

	(void)out;
	if (!ok)
		sl_yreader_report(r, v, "%s: %s", name, err.buf);
	free(host);
	sl_strbuf_release(&err);
	return ok;
}

/*
 * /metrics has no TLS and no authentication: off loopback, whoever
 * reaches the port reads what the daemon does, so the file must say that
 * the network is trusted (docs/security.md). The same rule for the
 * scheduler's file and the worker's.
 */
static void check_metrics_listen(struct sl_yreader *r, const struct sl_yschema *schema,
                                 const struct sl_yfound *found, const char *listen, bool insecure)
{
	const struct sl_ynode *v = found_value(schema, found, "metrics_listen");

	if (!v || !listen || insecure || hostport_loopback(listen))
		return;
	sl_yreader_report(r, v,
	                  "metrics_listen: %s is not a loopback address, and /metrics has "
	                  "neither TLS nor authentication: listen on loopback (and let a local "
	                  "agent or a tunnel scrape it), or set metrics_insecure: true if the "
	                  "network is trusted",
	                  listen);
}

static const struct sl_ykey web_keys[] = {
    SL_YKEY_STRING("listen", struct sl_config, web_listen, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("base_url", struct sl_config, web_base_url, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("tls_cert", struct sl_config, web_tls_cert, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("tls_key", struct sl_config, web_tls_key, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_BOOL("insecure", struct sl_config, web_insecure, 0),
    SL_YKEY_STRING("database_url", struct sl_config, web_database_url, SL_YKEY_NULL_KEEPS, NULL),
};

/*
 * sluice-web's group. Its listen address is checked here, where the node
 * is at hand, rather than with the scheduler's: the two are independent.
 */
static bool read_web(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	static const struct sl_yschema schema = {web_keys, SL_ARRAY_SIZE(web_keys), NULL};
	const struct sl_yscope scope = {.where = name, .prefix = "web."};
	struct sl_config *cfg = out;
	struct sl_yfound found;

	if (sl_yschema_read(r, &schema, &scope, v, out, &found))
		return false;
	/* Half a pair would start without TLS. */
	if (!cfg->web_tls_cert != !cfg->web_tls_key) {
		sl_yreader_report(r, v,
		                  "web: tls_cert and tls_key go together: set both or neither");
		return false;
	}
	const struct sl_ynode *listen = found_value(&schema, &found, "listen");
	if (cfg->web_tls_cert || cfg->web_insecure || !listen || hostport_loopback(cfg->web_listen))
		return true;
	sl_yreader_report(r, listen,
	                  "web.listen: %s is not a loopback address, and HTTP would travel in "
	                  "clear text: set web.tls_cert and web.tls_key, or web.insecure: true "
	                  "if the network is trusted",
	                  cfg->web_listen);
	return false;
}

static const struct sl_ykey top_keys[] = {
    SL_YKEY_STRING("database_url", struct sl_config, database_url, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_FN("dags", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
               "a mapping (repo, branch, path, poll_interval)", read_dags),
    SL_YKEY_STRING("state_dir", struct sl_config, state_dir, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("listen", struct sl_config, listen, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("token_file", struct sl_config, token_file, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_INT("parallelism", struct sl_config, parallelism, 1, 100000, 0),
    SL_YKEY_DURATION("heartbeat_timeout", struct sl_config, heartbeat_timeout, SL_YKEY_POSITIVE),
    SL_YKEY_INT("log_limit", struct sl_config, log_limit, 1, (long long)1 << 40, 0),
    SL_YKEY_DURATION("hello_timeout", struct sl_config, hello_timeout, SL_YKEY_POSITIVE),
    SL_YKEY_INT("max_connections", struct sl_config, max_connections, 1, 65536, 0),
    SL_YKEY_FN("tls", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS, "a mapping (cert, key)", read_sched_tls),
    SL_YKEY_BOOL("insecure", struct sl_config, insecure, 0),
    SL_YKEY_DURATION("retention", struct sl_config, retention, SL_YKEY_POSITIVE),
    SL_YKEY_FN("web", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS,
               "a mapping (listen, base_url, tls_cert, tls_key, insecure)", read_web),
    SL_YKEY_STRING("metrics_listen", struct sl_config, metrics_listen, SL_YKEY_NULL_KEEPS,
                   check_listen),
    SL_YKEY_BOOL("metrics_insecure", struct sl_config, metrics_insecure, 0),
};

/*
 * Clear text only on loopback, unless the file says it is wanted: a
 * scheduler reachable from other hosts without TLS hands its workers'
 * token to whoever reads the network, and lets anyone who can take its
 * address command the workers (docs/security.md).
 */
static void check_sched(struct sl_yreader *r, const struct sl_yschema *schema,
                        const struct sl_yfound *found, void *out)
{
	struct sl_config *cfg = out;
	const struct sl_ynode *listen = found_value(schema, found, "listen");

	check_metrics_listen(r, schema, found, cfg->metrics_listen, cfg->metrics_insecure);
	if (cfg->tls_cert || cfg->insecure || !listen || hostport_loopback(cfg->listen))
		return;
	sl_yreader_report(r, listen,
	                  "listen: %s is not a loopback address, and workers would send their "
	                  "token in clear text: set tls (cert and key) so that workers can "
	                  "verify this scheduler, or insecure: true if the network is trusted",
	                  cfg->listen);
}

int sl_config_load(struct sl_config *cfg, const char *path, struct sl_diags *diags)
{
	static const struct sl_yschema schema = {top_keys, SL_ARRAY_SIZE(top_keys), NULL};
	struct sl_yreader r;

	sl_yreader_init(&r, path, diags);
	return load_file(&r, &cfg->file, &schema, check_sched, cfg);
}

/* The worker's configuration. */

#define WORKER_ID_MAX 200

void sl_worker_config_init(struct sl_worker_config *cfg)
{
	char host[HOST_NAME_MAX + 1];

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		/* Only the first label: a FQDN is still a valid id, but short reads better. */
		host[strcspn(host, ".")] = '\0';
	} else {
		host[0] = '\0';
	}
	cfg->name = sl_xstrdup(host[0] ? host : "worker");
	cfg->slots = 1;
	SL_ALLOC_GROW(cfg->queues, 1, cfg->queues_alloc);
	cfg->queues[cfg->queues_nr++] = sl_xstrdup("default");
	cfg->state_dir = sl_xstrdup("/var/lib/sluice-worker");
	cfg->grace = 60;
	cfg->checkout_max_age = 7 * 24 * 3600;
	cfg->checkout_max_bytes = (int64_t)5 << 30;
}

static void strings_clear(char **items, size_t *nr)
{
	for (size_t i = 0; i < *nr; i++)
		free(items[i]);
	*nr = 0;
}

void sl_worker_config_release(struct sl_worker_config *cfg)
{
	free(cfg->file);
	strings_clear(cfg->schedulers, &cfg->schedulers_nr);
	free(cfg->schedulers);
	free(cfg->token_file);
	free(cfg->name);
	strings_clear(cfg->queues, &cfg->queues_nr);
	free(cfg->queues);
	free(cfg->state_dir);
	free(cfg->repo);
	free(cfg->tls_ca);
	free(cfg->task_user);
	free(cfg->metrics_listen);
	memset(cfg, 0, sizeof(*cfg));
}

int sl_hostport_parse(const char *s, char **host, int *port, struct sl_strbuf *err)
{
	const char *colon, *hs = s, *he;
	char *end;
	long p;

	*host = NULL;
	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':') {
			sl_strbuf_addf(err, "'%s' is not host:port ([address]:port for IPv6)", s);
			return SL_EINVAL;
		}
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s))) {
			sl_strbuf_addf(err, "'%s' is not host:port ([address]:port for IPv6)", s);
			return SL_EINVAL;
		}
		he = colon;
	}
	if (he == hs) {
		sl_strbuf_addf(err, "'%s' has no host", s);
		return SL_EINVAL;
	}
	p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 1 || p > 65535 || colon[1] == '-' || colon[1] == '+') {
		sl_strbuf_addf(err, "'%s' has no valid port (1 to 65535)", s);
		return SL_EINVAL;
	}
	*host = sl_xstrndup(hs, (size_t)(he - hs));
	*port = (int)p;
	return 0;
}

static bool is_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > WORKER_ID_MAX)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* A name, or a number, which YAML reads as an integer but is a valid name. */
static bool read_name(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	struct sl_worker_config *cfg = out;
	const char *s;

	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return true;
	if (!sl_ynode_is_string(v) && !sl_ynode_is(v, SL_YTYPE_INT)) {
		sl_yreader_type_error(r, name, v, "a name");
		return false;
	}
	s = sl_ynode_deref(v)->u.scalar.text;
	if (!is_id(s)) {
		sl_yreader_report(
		    r, v, "%s: '%s' is not a valid name (1 to 200 of A-Z a-z 0-9 _ . -)", name, s);
		return false;
	}
	free(cfg->name);
	cfg->name = sl_xstrdup(s);
	return true;
}

static bool check_hostport(struct sl_yreader *r, const char *name, const struct sl_ynode *item)
{
	return check_listen(r, name, item, NULL);
}

static bool check_queue(struct sl_yreader *r, const char *name, const struct sl_ynode *item)
{
	const char *s = sl_ynode_deref(item)->u.scalar.text;

	if (is_id(s))
		return true;
	sl_yreader_report(
	    r, item, "%s: '%s' is not a valid queue name (1 to 200 of A-Z a-z 0-9 _ . -)", name, s);
	return false;
}

/* Replace the list only when every item is good, so a bad value leaves the default. */
static bool store_list(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                       bool (*check)(struct sl_yreader *, const char *, const struct sl_ynode *),
                       char ***items, size_t *nr, size_t *alloc)
{
	size_t n = sl_ylist_nr(v);
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		ok &= check(r, name, sl_ylist_item(v, i));
	if (!ok)
		return false;
	strings_clear(*items, nr);
	for (size_t i = 0; i < n; i++) {
		SL_ALLOC_GROW(*items, *nr + 1, *alloc);
		(*items)[(*nr)++] = sl_xstrdup(sl_ynode_deref(sl_ylist_item(v, i))->u.scalar.text);
	}
	return true;
}

static bool read_schedulers(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                            void *out)
{
	struct sl_worker_config *cfg = out;

	return store_list(r, name, v, check_hostport, &cfg->schedulers, &cfg->schedulers_nr,
	                  &cfg->schedulers_alloc);
}

static bool read_queues(struct sl_yreader *r, const char *name, const struct sl_ynode *v, void *out)
{
	struct sl_worker_config *cfg = out;

	return store_list(r, name, v, check_queue, &cfg->queues, &cfg->queues_nr,
	                  &cfg->queues_alloc);
}

/*
 * "sha256:AB:CD:..." as `openssl x509 -noout -fingerprint -sha256` prints
 * it, with or without the prefix and the colons (a colon only between two
 * bytes), in either case.
 */
static bool parse_fingerprint(const char *s, unsigned char *fp)
{
	size_t n = 0;

	if (!strncasecmp(s, "sha256:", 7))
		s += 7;
	while (*s) {
		int hi, lo;

		if (n == SL_CONFIG_FINGERPRINT_LEN)
			return false;
		if (n && *s == ':')
			s++;
		if ((hi = sl_hex_digit((unsigned char)s[0])) < 0 ||
		    (lo = sl_hex_digit((unsigned char)s[1])) < 0)
			return false;
		fp[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	return n == SL_CONFIG_FINGERPRINT_LEN;
}

static bool read_fingerprint(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                             void *out)
{
	struct sl_worker_config *cfg = out;
	const char *s = sl_ynode_deref(v)->u.scalar.text;

	if (!parse_fingerprint(s, cfg->tls_fingerprint)) {
		sl_yreader_report(r, v,
		                  "%s: expected sha256: and 32 bytes in hex (AB:CD:... as `openssl "
		                  "x509 -noout -fingerprint -sha256` prints them), got '%.120s'",
		                  name, s);
		return false;
	}
	cfg->tls_pinned = true;
	return true;
}

static const struct sl_ykey worker_tls_keys[] = {
    SL_YKEY_STRING("ca", struct sl_worker_config, tls_ca, 0, NULL),
    SL_YKEY_FN("fingerprint", SL_YK_STRING, 0, NULL, read_fingerprint),
};

static bool read_worker_tls(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                            void *out)
{
	static const struct sl_yschema schema = {worker_tls_keys, SL_ARRAY_SIZE(worker_tls_keys),
	                                         NULL};
	const struct sl_yscope scope = {.where = name, .prefix = "tls."};
	struct sl_worker_config *cfg = out;
	struct sl_yfound found;

	if (sl_yschema_read(r, &schema, &scope, v, out, &found))
		return false;
	if (!found.present) {
		sl_yreader_report(r, v,
		                  "tls: needs ca (CA certificates to verify the scheduler with), "
		                  "fingerprint (its certificate's SHA-256), or both");
		return false;
	}
	cfg->tls = true;
	return true;
}

/* The POSIX portable user name set, as useradd takes it (at most 32, LOGIN_NAME_MAX). */
#define USER_NAME_MAX 32

/*
 * Only the form: the user is looked up when the worker starts, on the
 * machine it runs on (a file checked elsewhere may name a user made there).
 * Where the value is written is kept, so that an unknown user is reported
 * at file:line:col all the same.
 */
static bool check_task_user(struct sl_yreader *r, const char *name, const struct sl_ynode *v,
                            void *out)
{
	struct sl_worker_config *cfg = out;
	const char *s = sl_ynode_deref(v)->u.scalar.text;
	size_t n = strlen(s);

	if (n < 1 || n > USER_NAME_MAX || s[0] == '-' ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != n) {
		sl_yreader_report(r, v,
		                  "%s: '%s' is not a user name (1 to %d of A-Z a-z 0-9 _ . -, not "
		                  "starting with '-')",
		                  name, s, USER_NAME_MAX);
		return false;
	}
	cfg->task_user_line = v->line;
	cfg->task_user_column = v->column;
	return true;
}

static const struct sl_ykey worker_keys[] = {
    SL_YKEY_FN("scheduler", SL_YK_STRINGS, SL_YKEY_REQUIRED | SL_YKEY_ONE | SL_YKEY_NONEMPTY,
               "host:port, or a list of them", read_schedulers),
    SL_YKEY_STRING("token_file", struct sl_worker_config, token_file, SL_YKEY_REQUIRED, NULL),
    SL_YKEY_FN("name", SL_YK_ANY, 0, NULL, read_name),
    SL_YKEY_INT("slots", struct sl_worker_config, slots, 1, 65535, 0),
    SL_YKEY_FN("queues", SL_YK_STRINGS, SL_YKEY_NULL_KEEPS | SL_YKEY_ONE | SL_YKEY_NONEMPTY, NULL,
               read_queues),
    SL_YKEY_STRING("state_dir", struct sl_worker_config, state_dir, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_STRING("repo", struct sl_worker_config, repo, SL_YKEY_NULL_KEEPS, NULL),
    SL_YKEY_DURATION("grace", struct sl_worker_config, grace, SL_YKEY_POSITIVE),
    SL_YKEY_DURATION("checkout_max_age", struct sl_worker_config, checkout_max_age,
                     SL_YKEY_POSITIVE),
    SL_YKEY_INT("checkout_max_bytes", struct sl_worker_config, checkout_max_bytes, 1,
                (long long)1 << 50, 0),
    SL_YKEY_FN("tls", SL_YK_MAPPING, SL_YKEY_NULL_KEEPS, "a mapping (ca, fingerprint)",
               read_worker_tls),
    SL_YKEY_BOOL("insecure", struct sl_worker_config, insecure, 0),
    SL_YKEY_STRING("task_user", struct sl_worker_config, task_user, SL_YKEY_NULL_KEEPS,
                   check_task_user),
    SL_YKEY_STRING("metrics_listen", struct sl_worker_config, metrics_listen, SL_YKEY_NULL_KEEPS,
                   check_listen),
    SL_YKEY_BOOL("metrics_insecure", struct sl_worker_config, metrics_insecure, 0),
};

/*
 * Clear text only to a scheduler on this host, unless the file says it is
 * wanted: else the token goes to whoever answers at that address, and so
 * does the right to have this worker run commands (docs/security.md).
 */
static void check_worker(struct sl_yreader *r, const struct sl_yschema *schema,
                         const struct sl_yfound *found, void *out)
{
	struct sl_worker_config *cfg = out;
	const struct sl_ynode *v = found_value(schema, found, "scheduler");

	check_metrics_listen(r, schema, found, cfg->metrics_listen, cfg->metrics_insecure);
	if (cfg->tls || cfg->insecure || !v)
		return;
	for (size_t i = 0; i < sl_ylist_nr(v); i++) {
		const struct sl_ynode *item = sl_ylist_item(v, i);
		const char *target = sl_ynode_deref(item)->u.scalar.text;

		if (!hostport_loopback(target))
			sl_yreader_report(
			    r, item,
			    "scheduler: %s is not a loopback address, and this worker "
			    "would send its token in clear text to whoever answers there: "
			    "set tls (ca and/or fingerprint) so that it verifies the "
			    "scheduler first, or insecure: true if the network is trusted",
			    target);
	}
}

int sl_worker_config_load(struct sl_worker_config *cfg, const char *path, struct sl_diags *diags)
{
	static const struct sl_yschema schema = {worker_keys, SL_ARRAY_SIZE(worker_keys), NULL};
	struct sl_yreader r;

	sl_yreader_init(&r, path, diags);
	return load_file(&r, &cfg->file, &schema, check_worker, cfg);
}
