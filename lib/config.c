#include "sluice/config.h"

#include <stdlib.h>
#include <string.h>

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
	cfg->heartbeat_timeout = 30;
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

static void read_top(struct reader *r, const struct sl_ynode *root, struct sl_config *cfg)
{
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

int sl_config_load(struct sl_config *cfg, const char *path, struct sl_diags *diags)
{
	struct sl_strbuf data = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	struct reader r = {path, diags, 0};
	struct sl_ydoc *doc = NULL;
	const struct sl_ynode *root;
	int rc = sl_strbuf_read_file(&data, path, CONFIG_MAX_SIZE, &err);

	if (rc) {
		sl_diags_add(diags, path, 1, 1, "%s", err.buf);
		goto out;
	}
	free(cfg->file);
	cfg->file = sl_xstrdup(path);
	rc = sl_ydoc_parse(&doc, path, data.buf, data.len, diags);
	if (!doc)
		goto out;
	root = sl_ynode_deref(sl_ydoc_root(doc));
	if (root->kind == SL_YNODE_MAPPING)
		read_top(&r, root, cfg);
	else if (!sl_ynode_is(root, SL_YTYPE_NULL))
		problem(&r, root, "configuration", "a mapping of settings", root);
	if (r.problems)
		rc = SL_EINVAL;
out:
	sl_ydoc_free(doc);
	sl_strbuf_release(&data);
	sl_strbuf_release(&err);
	return rc;
}
