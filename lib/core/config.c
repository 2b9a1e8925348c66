#include "sluice/config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/alloc.h"
#include "sluice/duration.h"
#include "sluice/error.h"
#include "sluice/strbuf.h"
#include "sluice/suggest.h"
#include "sluice/yaml_doc.h"
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
	memset(cfg, 0, sizeof(*cfg));
}

struct reader {
	const char *file;
	struct sl_diags *diags;
	int problems;
};

static void problem(struct reader *r, const struct sl_ynode *at, const char *key, const char *what,
                    const struct sl_ynode *got)
{
	sl_diags_add(r->diags, r->file, at->line, at->column, "%s: expected %s, got %s", key, what,
	             sl_ynode_type_name(got));
	r->problems++;
}

/* A string (or null, which leaves the default) into *dst. */
static void read_string(struct reader *r, const char *key, const struct sl_ynode *v, char **dst)
{
	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return;
	if (!sl_ynode_is_string(v)) {
		problem(r, v, key, "a string", v);
		return;
	}
	free(*dst);
	*dst = sl_xstrdup(v->u.scalar.text);
}

static void read_duration(struct reader *r, const char *key, const struct sl_ynode *v, int64_t *dst)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	int64_t secs;

	if (v->kind != SL_YNODE_SCALAR || sl_ynode_is(v, SL_YTYPE_NULL)) {
		problem(r, v, key, "a duration", v);
		return;
	}
	if (sl_duration_parse(v->u.scalar.text, &secs, &err) < 0 || secs <= 0) {
		sl_diags_add(r->diags, r->file, v->line, v->column, "%s: %s", key,
		             err.len ? err.buf : "must be greater than 0");
		r->problems++;
	} else {
		*dst = secs;
	}
	sl_strbuf_release(&err);
}

static void read_positive(struct reader *r, const char *key, const struct sl_ynode *v,
                          long long max, int64_t *dst)
{
	long long n;

	if (!sl_ynode_is(v, SL_YTYPE_INT) || sl_ynode_int(v, &n) < 0 || n < 1 || n > max) {
		sl_diags_add(r->diags, r->file, v->line, v->column,
		             "%s: expected an integer from 1 to %lld", key, max);
		r->problems++;
		return;
	}
	*dst = n;
}

static void unknown_key(struct reader *r, const struct sl_ynode *key, const char *section,
                        const char *const *known, size_t nr)
{
	const char *hint = sl_suggest_best(key->u.scalar.text, known, nr);

	sl_diags_add(r->diags, r->file, key->line, key->column, "unknown key '%s'%s%s%s%s%s",
	             key->u.scalar.text, section ? " in " : "", section ? section : "",
	             hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
	r->problems++;
}

static const char *const dags_keys[] = {"repo", "branch", "path", "poll_interval"};

static void read_dags(struct reader *r, const struct sl_ynode *v, struct sl_config *cfg)
{
	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return;
	if (v->kind != SL_YNODE_MAPPING) {
		problem(r, v, "dags", "a mapping (repo, branch, path, poll_interval)", v);
		return;
	}
	for (size_t i = 0; i < v->u.map.nr; i++) {
		const struct sl_ynode *key = v->u.map.pairs[i].key;
		const struct sl_ynode *val = sl_ynode_deref(v->u.map.pairs[i].value);
		const char *k = key->u.scalar.text;

		if (!strcmp(k, "repo"))
			read_string(r, "dags.repo", val, &cfg->dags_repo);
		else if (!strcmp(k, "branch"))
			read_string(r, "dags.branch", val, &cfg->dags_branch);
		else if (!strcmp(k, "path"))
			read_string(r, "dags.path", val, &cfg->dags_path);
		else if (!strcmp(k, "poll_interval"))
			read_duration(r, "dags.poll_interval", val, &cfg->dags_poll_interval);
		else
			unknown_key(r, key, "dags", dags_keys, SL_ARRAY_SIZE(dags_keys));
	}
}

static const char *const top_keys[] = {
    "database_url", "dags",        "state_dir",         "listen",
    "token_file",   "parallelism", "heartbeat_timeout", "log_limit",
};

static void read_top(struct reader *r, const struct sl_ynode *root, void *out)
{
	struct sl_config *cfg = out;

	for (size_t i = 0; i < root->u.map.nr; i++) {
		const struct sl_ynode *key = root->u.map.pairs[i].key;
		const struct sl_ynode *val = sl_ynode_deref(root->u.map.pairs[i].value);
		const char *k = key->u.scalar.text;
		int64_t n;

		if (!strcmp(k, "database_url")) {
			read_string(r, k, val, &cfg->database_url);
		} else if (!strcmp(k, "dags")) {
			read_dags(r, val, cfg);
		} else if (!strcmp(k, "state_dir")) {
			read_string(r, k, val, &cfg->state_dir);
		} else if (!strcmp(k, "listen")) {
			read_string(r, k, val, &cfg->listen);
		} else if (!strcmp(k, "token_file")) {
			read_string(r, k, val, &cfg->token_file);
		} else if (!strcmp(k, "parallelism")) {
			n = cfg->parallelism;
			read_positive(r, k, val, 100000, &n);
			cfg->parallelism = (int)n;
		} else if (!strcmp(k, "heartbeat_timeout")) {
			read_duration(r, k, val, &cfg->heartbeat_timeout);
		} else if (!strcmp(k, "log_limit")) {
			read_positive(r, k, val, (long long)1 << 40, &cfg->log_limit);
		} else {
			unknown_key(r, key, NULL, top_keys, SL_ARRAY_SIZE(top_keys));
		}
	}
}

/*
 * Read PATH, a YAML mapping of settings, with READ_TOP into CFG; every
 * problem goes to the reader's diagnostics. *FILE becomes PATH.
 */
static int load_file(struct reader *r, char **file,
                     void (*read_top_fn)(struct reader *, const struct sl_ynode *, void *),
                     void *cfg)
{
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
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
	if (root->kind == SL_YNODE_MAPPING)
		read_top_fn(r, root, cfg);
	else if (!sl_ynode_is(root, SL_YTYPE_NULL))
		problem(r, root, "configuration", "a mapping of settings", root);
	if (r->problems)
		rc = SL_EINVAL;
out:
	sl_ydoc_free(doc);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	return rc;
}

int sl_config_load(struct sl_config *cfg, const char *path, struct sl_diags *diags)
{
	struct reader r = {path, diags, 0};

	return load_file(&r, &cfg->file, read_top, cfg);
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

static void read_id(struct reader *r, const char *key, const struct sl_ynode *v, char **dst)
{
	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return;
	if (!sl_ynode_is_string(v) && !sl_ynode_is(v, SL_YTYPE_INT)) {
		problem(r, v, key, "a name", v);
		return;
	}
	if (!is_id(v->u.scalar.text)) {
		sl_diags_add(r->diags, r->file, v->line, v->column,
		             "%s: '%s' is not a valid name (1 to 200 of A-Z a-z 0-9 _ . -)", key,
		             v->u.scalar.text);
		r->problems++;
		return;
	}
	free(*dst);
	*dst = sl_xstrdup(v->u.scalar.text);
}

typedef bool (*item_check_fn)(struct reader *r, const char *key, const struct sl_ynode *item);

static bool check_hostport(struct reader *r, const char *key, const struct sl_ynode *item)
{
	struct sl_strbuf err = SL_STRBUF_INIT;
	char *host = NULL;
	int port;
	bool ok = sl_hostport_parse(item->u.scalar.text, &host, &port, &err) == 0;

	if (!ok) {
		sl_diags_add(r->diags, r->file, item->line, item->column, "%s: %s", key, err.buf);
		r->problems++;
	}
	free(host);
	sl_strbuf_release(&err);
	return ok;
}

static bool check_queue(struct reader *r, const char *key, const struct sl_ynode *item)
{
	if (is_id(item->u.scalar.text))
		return true;
	sl_diags_add(r->diags, r->file, item->line, item->column,
	             "%s: '%s' is not a valid queue name (1 to 200 of A-Z a-z 0-9 _ . -)", key,
	             item->u.scalar.text);
	r->problems++;
	return false;
}

/*
 * A string or a non-empty list of strings; replaces the list only when every
 * item is good, so a bad value leaves the default in place.
 */
static void read_string_list(struct reader *r, const char *key, const struct sl_ynode *v,
                             item_check_fn check, char ***items, size_t *nr, size_t *alloc)
{
	const struct sl_ynode *one = v;
	const struct sl_ynode *const *list = &one;
	size_t n = 1, problems = (size_t)r->problems;

	if (sl_ynode_is(v, SL_YTYPE_NULL))
		return;
	if (v->kind == SL_YNODE_SEQUENCE) {
		list = (const struct sl_ynode *const *)v->u.seq.items;
		n = v->u.seq.nr;
		if (!n) {
			sl_diags_add(r->diags, r->file, v->line, v->column, "%s: the list is empty",
			             key);
			r->problems++;
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct sl_ynode *item = sl_ynode_deref(list[i]);

		if (!sl_ynode_is_string(item) && !sl_ynode_is(item, SL_YTYPE_INT))
			problem(r, item, key, "a string or a list of strings", item);
		else
			check(r, key, item);
	}
	if ((size_t)r->problems != problems)
		return;
	strings_clear(*items, nr);
	for (size_t i = 0; i < n; i++) {
		SL_ALLOC_GROW(*items, *nr + 1, *alloc);
		(*items)[(*nr)++] = sl_xstrdup(sl_ynode_deref(list[i])->u.scalar.text);
	}
}

static const char *const worker_keys[] = {
    "scheduler",        "token_file",         "name", "slots",
    "queues",           "state_dir",          "repo", "grace",
    "checkout_max_age", "checkout_max_bytes",
};

static void read_worker_top(struct reader *r, const struct sl_ynode *root, void *out)
{
	struct sl_worker_config *cfg = out;

	for (size_t i = 0; i < root->u.map.nr; i++) {
		const struct sl_ynode *key = root->u.map.pairs[i].key;
		const struct sl_ynode *val = sl_ynode_deref(root->u.map.pairs[i].value);
		const char *k = key->u.scalar.text;
		int64_t n;

		if (!strcmp(k, "scheduler")) {
			read_string_list(r, k, val, check_hostport, &cfg->schedulers,
			                 &cfg->schedulers_nr, &cfg->schedulers_alloc);
		} else if (!strcmp(k, "token_file")) {
			read_string(r, k, val, &cfg->token_file);
		} else if (!strcmp(k, "name")) {
			read_id(r, k, val, &cfg->name);
		} else if (!strcmp(k, "slots")) {
			n = cfg->slots;
			read_positive(r, k, val, 65535, &n);
			cfg->slots = (int)n;
		} else if (!strcmp(k, "queues")) {
			read_string_list(r, k, val, check_queue, &cfg->queues, &cfg->queues_nr,
			                 &cfg->queues_alloc);
		} else if (!strcmp(k, "state_dir")) {
			read_string(r, k, val, &cfg->state_dir);
		} else if (!strcmp(k, "repo")) {
			read_string(r, k, val, &cfg->repo);
		} else if (!strcmp(k, "grace")) {
			read_duration(r, k, val, &cfg->grace);
		} else if (!strcmp(k, "checkout_max_age")) {
			read_duration(r, k, val, &cfg->checkout_max_age);
		} else if (!strcmp(k, "checkout_max_bytes")) {
			read_positive(r, k, val, (long long)1 << 50, &cfg->checkout_max_bytes);
		} else {
			unknown_key(r, key, NULL, worker_keys, SL_ARRAY_SIZE(worker_keys));
		}
	}
}

int sl_worker_config_load(struct sl_worker_config *cfg, const char *path, struct sl_diags *diags)
{
	struct reader r = {path, diags, 0};
	int rc = load_file(&r, &cfg->file, read_worker_top, cfg);

	if (rc)
		return rc;
	if (!cfg->schedulers_nr) {
		sl_diags_add(diags, path, 1, 1,
		             "scheduler: required (host:port, or a list of them)");
		rc = SL_EINVAL;
	} else if (!cfg->token_file) {
		sl_diags_add(diags, path, 1, 1, "token_file: required");
		rc = SL_EINVAL;
	}
	return rc;
}
