/*
 * The DAG repository through libgit2: open a local repository or keep a
 * bare mirror of a remote, fetch, resolve a branch, and walk a commit's tree
 * reading DAG files straight from blobs. See include/sluice/gitsrc.h.
 */
#include "sluice/gitsrc.h"

#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/error.h"
#include "sluice/url.h"
#include "git_int.h"
#include "sluice/banned.h"

/* The DAG loader's own size limit (lib/core/dag_load.c). */
#define DEFAULT_MAX_SIZE (1024 * 1024)
/* Folders nested deeper than this are refused rather than recursed into. */
#define MAX_DEPTH 64
/* Attempts the credential callback makes before giving up. */
#define MAX_AUTH_TRIES 3

struct sl_gitsrc {
	git_repository *repo;
	char *url;   /* as configured */
	char *shown; /* `url` without credentials (sluice/url.h), for messages */
	char *dir;   /* what libgit2 opened */
	bool mirror;
};

/*
 * Append "message: libgit2's reason" to `err` and map libgit2's code to
 * ours. git_error_last() is per thread, so this is safe off the loop.
 */
int sl__git_fail(struct sl_strbuf *err, int code, const char *fmt, ...)
{
	const git_error *e = git_error_last();
	va_list ap;

	va_start(ap, fmt);
	sl_strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	if (e && e->message && *e->message) {
		size_t len = strlen(e->message);

		/* libgit2's messages sometimes end with a newline or a period. */
		while (len && (e->message[len - 1] == '\n' || e->message[len - 1] == '.'))
			len--;
		sl_strbuf_adds(err, ": ");
		sl_strbuf_add(err, e->message, len);
	}
	return code == GIT_ENOTFOUND ? SL_ENOENT : SL_ERR;
}

int sl_gitsrc_global_init(struct sl_strbuf *err)
{
	if (git_libgit2_init() < 0)
		return sl__git_fail(err, -1, "cannot initialise libgit2");
	return 0;
}

void sl_gitsrc_global_shutdown(void)
{
	git_libgit2_shutdown();
}

bool sl_gitsrc_is_url(const char *repo)
{
	const char *colon = strchr(repo, ':');

	if (strstr(repo, "://"))
		return true;
	/* git's rule for scp-like syntax: a colon with no slash before it
	 * ("host:path", "user@host:path"); "./a:b" and "/x:y" are paths. */
	return colon && colon != repo && !memchr(repo, '/', (size_t)(colon - repo));
}

/* The mirror's folder name: the URL's last component made safe, and 12 hex
 * digits of the URL's hash, so two repositories never share a mirror. */
static int mirror_name(struct sl_strbuf *out, const char *url, struct sl_strbuf *err)
{
	char hex[GIT_OID_HEXSZ + 1];
	size_t end = strlen(url), start, n = 0;
	git_oid oid;

	while (end && url[end - 1] == '/')
		end--;
	if (end >= 4 && !strncmp(url + end - 4, ".git", 4))
		end -= 4;
	start = end;
	while (start && url[start - 1] != '/' && url[start - 1] != ':')
		start--;
	for (size_t i = start; i < end && n < 40; i++, n++) {
		char c = url[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '-' || c == '_' || (c == '.' && n);

		sl_strbuf_addch(out, safe ? c : '_');
	}
	if (!n)
		sl_strbuf_adds(out, "repo");
	if (git_odb_hash(&oid, url, strlen(url), GIT_OBJECT_BLOB) < 0)
		return sl__git_fail(err, -1, "cannot hash the repository URL");
	git_oid_tostr(hex, sizeof(hex), &oid);
	sl_strbuf_addf(out, "-%.12s", hex);
	return 0;
}

/* Open the mirror of `src->url` in `src->dir`, creating it (bare, with its
 * remote "origin") on first use. Safe against a concurrent first use: init
 * of an existing repository changes nothing, and an origin created in
 * between is looked up again. The remote's URL in the mirror's config is
 * `shown`: a password written there could be read by anything that reads
 * state_dir (a worker's tasks), so sl_gitsrc_fetch gives libgit2 the full
 * URL in memory only. */
static int open_mirror(struct sl_gitsrc *src, struct sl_strbuf *err)
{
	git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	git_remote *remote = NULL;
	int rc;

	rc = git_repository_open_bare(&src->repo, src->dir);
	if (rc == GIT_ENOTFOUND) {
		opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		rc = git_repository_init_ext(&src->repo, src->dir, &opts);
	}
	if (rc < 0)
		return sl__git_fail(err, rc, "cannot open or create the mirror %s of %s", src->dir,
		                    src->shown);

	rc = git_remote_lookup(&remote, src->repo, "origin");
	if (rc == GIT_ENOTFOUND) {
		rc = git_remote_create_with_fetchspec(&remote, src->repo, "origin", src->shown,
		                                      "+refs/heads/*:refs/heads/*");
		if (rc == GIT_EEXISTS)
			rc = git_remote_lookup(&remote, src->repo, "origin");
	}
	if (rc < 0)
		return sl__git_fail(err, rc, "cannot set up the remote of mirror %s", src->dir);
	if (strcmp(git_remote_url(remote), src->shown)) {
		rc = git_remote_set_url(src->repo, "origin", src->shown);
		if (rc < 0) {
			git_remote_free(remote);
			return sl__git_fail(err, rc, "cannot set the URL of mirror %s", src->dir);
		}
	}
	git_remote_free(remote);
	return 0;
}

int sl_gitsrc_open(struct sl_gitsrc **out, const char *repo, const char *state_dir,
                   struct sl_strbuf *err)
{
	struct sl_gitsrc *src = sl_xcalloc(1, sizeof(*src));
	struct sl_strbuf dir = SL_STRBUF_INIT;
	int rc;

	*out = NULL;
	if (!repo || !*repo) {
		sl_strbuf_adds(err, "no DAG repository is configured (dags.repo)");
		rc = SL_EINVAL;
		goto fail;
	}
	src->url = sl_xstrdup(repo);
	src->shown = sl_url_redact(repo);
	src->mirror = sl_gitsrc_is_url(repo);
	if (!src->mirror) {
		src->dir = sl_xstrdup(repo);
		/* NO_SEARCH: a folder that is not a repository must not silently
		 * resolve to a repository that happens to enclose it. */
		rc = git_repository_open_ext(&src->repo, repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
		if (rc < 0) {
			rc = sl__git_fail(err, rc, "cannot open the git repository %s", repo);
			goto fail;
		}
	} else {
		if (!state_dir || !*state_dir) {
			sl_strbuf_addf(err, "a state_dir is needed to mirror %s", src->shown);
			rc = SL_EINVAL;
			goto fail;
		}
		sl_strbuf_addf(&dir, "%s/mirrors/", state_dir);
		/* Named after `shown`: a hash of a password is no place for it
		 * either (a weak one can be found from 48 bits of it). */
		rc = mirror_name(&dir, src->shown, err);
		if (rc)
			goto fail;
		src->dir = sl_strbuf_detach(&dir, NULL);
		rc = open_mirror(src, err);
		if (rc)
			goto fail;
	}
	*out = src;
	return 0;
fail:
	sl_strbuf_release(&dir);
	sl_gitsrc_free(src);
	return rc;
}

void sl_gitsrc_free(struct sl_gitsrc *src)
{
	if (!src)
		return;
	git_repository_free(src->repo);
	free(src->url);
	free(src->shown);
	free(src->dir);
	free(src);
}

const char *sl_gitsrc_repo(const struct sl_gitsrc *src)
{
	return src->url;
}

const char *sl_gitsrc_dir(const struct sl_gitsrc *src)
{
	return src->dir;
}

bool sl_gitsrc_is_mirror(const struct sl_gitsrc *src)
{
	return src->mirror;
}

/*
 * Credentials for a fetch: the user name from the URL (ssh asks for it
 * first), then ssh keys from ssh-agent. `payload` counts the attempts, so a
 * refused key ends the fetch instead of looping; it lives on the fetching
 * thread's stack.
 */
static int credentials(git_credential **out, const char *url, const char *username_from_url,
                       unsigned int allowed_types, void *payload)
{
	int *tries = payload;
	const char *user = username_from_url && *username_from_url ? username_from_url : "git";

	(void)url;
	if ((*tries)++ >= MAX_AUTH_TRIES)
		return GIT_PASSTHROUGH;
	if (allowed_types & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if (allowed_types & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user);
	return GIT_PASSTHROUGH;
}

int sl_gitsrc_fetch(struct sl_gitsrc *src, struct sl_strbuf *err)
{
	git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
	git_remote *remote = NULL;
	git_reference *head = NULL;
	git_buf default_branch = {0};
	bool has_head = false;
	int tries = 0, rc;

	if (!src->mirror)
		return 0;
	opts.prune = GIT_FETCH_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts.update_fetchhead = 0;
	opts.proxy_opts.type = GIT_PROXY_AUTO;
	opts.callbacks.credentials = credentials;
	opts.callbacks.payload = &tries;

	rc = git_remote_lookup(&remote, src->repo, "origin");
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "mirror %s has no remote", src->dir);
		goto out;
	}
	/* The config holds the URL without credentials (open_mirror). */
	rc = git_remote_set_instance_url(remote, src->url);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot set the URL of mirror %s", src->dir);
		goto out;
	}
	/* Connect first: the remote's HEAD is only known while connected,
	 * and git_remote_fetch reuses the open connection. */
	rc = git_remote_connect(remote, GIT_DIRECTION_FETCH, &opts.callbacks, &opts.proxy_opts,
	                        NULL);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot fetch from %s", src->shown);
		goto out;
	}
	rc = git_remote_default_branch(&default_branch, remote);
	if (rc == 0)
		has_head = !strncmp(default_branch.ptr, "refs/heads/", 11);
	else if (rc != GIT_ENOTFOUND) {
		rc = sl__git_fail(err, rc, "cannot read the HEAD of %s", src->shown);
		goto out;
	}
	rc = git_remote_fetch(remote, NULL, &opts, "sluice: fetch");
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot fetch from %s", src->shown);
		goto out;
	}
	/* The mirror's HEAD follows the remote's, so that resolving no branch
	 * means "the remote's default branch". */
	if (has_head) {
		rc = git_reference_symbolic_create(&head, src->repo, "HEAD", default_branch.ptr, 1,
		                                   "sluice: follow the remote's HEAD");
		if (rc < 0) {
			rc = sl__git_fail(err, rc, "cannot update the HEAD of mirror %s", src->dir);
			goto out;
		}
	}
	rc = 0;
out:
	git_reference_free(head);
	git_buf_dispose(&default_branch);
	git_remote_free(remote);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ", "-separated sorted list of the local branches, or "" when none. */
static int list_branches(struct sl_gitsrc *src, struct sl_strbuf *out, struct sl_strbuf *err)
{
	git_branch_iterator *it = NULL;
	git_reference *ref = NULL;
	git_branch_t type;
	char **names = NULL;
	size_t nr = 0, alloc = 0;
	int rc;

	rc = git_branch_iterator_new(&it, src->repo, GIT_BRANCH_LOCAL);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot list the branches of %s", src->shown);
		goto out;
	}
	while ((rc = git_branch_next(&ref, &type, it)) == 0) {
		const char *name;

		if (git_branch_name(&name, ref) == 0) {
			SL_ALLOC_GROW(names, nr + 1, alloc);
			names[nr++] = sl_xstrdup(name);
		}
		git_reference_free(ref);
		ref = NULL;
	}
	if (rc != GIT_ITEROVER) {
		rc = sl__git_fail(err, rc, "cannot list the branches of %s", src->shown);
		goto out;
	}
	rc = 0;
	if (nr)
		qsort(names, nr, sizeof(*names), cmp_str);
	for (size_t i = 0; i < nr; i++)
		sl_strbuf_addf(out, "%s%s", i ? ", " : "", names[i]);
out:
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	git_branch_iterator_free(it);
	return rc;
}

/* The commit of refs/heads/`name`: 0, SL_ENOENT when there is no such
 * branch (nothing added to `err`), or another error. */
static int branch_commit(struct sl_gitsrc *src, const char *name, git_oid *oid,
                         struct sl_strbuf *err)
{
	struct sl_strbuf full = SL_STRBUF_INIT;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int valid = 0, rc;

	rc = git_branch_name_is_valid(&valid, name);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot check branch name '%s'", name);
		goto out;
	}
	if (!valid) {
		sl_strbuf_addf(err, "'%s' is not a valid branch name", name);
		rc = SL_EINVAL;
		goto out;
	}
	sl_strbuf_addf(&full, "refs/heads/%s", name);
	rc = git_reference_lookup(&ref, src->repo, full.buf);
	if (rc == GIT_ENOTFOUND) {
		rc = SL_ENOENT;
		goto out;
	}
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot read branch '%s' of %s", name, src->shown);
		goto out;
	}
	rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	if (rc < 0) {
		rc = sl__git_fail(err, SL_ERR, "branch '%s' of %s does not point at a commit", name,
		                  src->shown);
		goto out;
	}
	git_oid_cpy(oid, git_object_id(obj));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(ref);
	sl_strbuf_release(&full);
	return rc;
}

/* The branch HEAD names ("main" for refs/heads/main) into `out`; nothing
 * when HEAD is detached or missing. */
static int head_branch(struct sl_gitsrc *src, struct sl_strbuf *out, struct sl_strbuf *err)
{
	git_reference *head = NULL;
	const char *target;
	int rc = git_reference_lookup(&head, src->repo, "HEAD");

	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return sl__git_fail(err, rc, "cannot read HEAD of %s", src->shown);
	target = git_reference_type(head) == GIT_REFERENCE_SYMBOLIC
	             ? git_reference_symbolic_target(head)
	             : NULL;
	if (target && !strncmp(target, "refs/heads/", 11))
		sl_strbuf_adds(out, target + 11);
	git_reference_free(head);
	return 0;
}

int sl_gitsrc_resolve(struct sl_gitsrc *src, const char *branch, char *commit,
                      struct sl_strbuf *resolved, struct sl_strbuf *err)
{
	struct sl_strbuf candidate = SL_STRBUF_INIT, names = SL_STRBUF_INIT;
	const char *fallbacks[] = {NULL, "main", "master"};
	git_oid oid;
	int rc = SL_ENOENT;

	commit[0] = '\0';
	if (branch && *branch) {
		rc = branch_commit(src, branch, &oid, err);
		if (rc == 0)
			sl_strbuf_adds(&candidate, branch);
	} else {
		rc = head_branch(src, &candidate, err);
		if (rc)
			goto out;
		fallbacks[0] = candidate.len ? candidate.buf : NULL;
		rc = SL_ENOENT;
		for (size_t i = 0; i < SL_ARRAY_SIZE(fallbacks) && rc == SL_ENOENT; i++) {
			if (!fallbacks[i])
				continue;
			rc = branch_commit(src, fallbacks[i], &oid, err);
			if (rc == 0 && fallbacks[i] != candidate.buf) {
				sl_strbuf_reset(&candidate);
				sl_strbuf_adds(&candidate, fallbacks[i]);
			}
		}
	}
	if (rc == SL_ENOENT) {
		int lrc = list_branches(src, &names, err);

		if (lrc)
			rc = lrc;
		else if (branch && *branch)
			sl_strbuf_addf(err, "branch '%s' not found in %s; %s%s", branch, src->shown,
			               names.len ? "its branches are: " : "it has no branches",
			               names.buf);
		else
			sl_strbuf_addf(err,
			               "%s has no HEAD branch, 'main' or 'master'; %s%s (set "
			               "dags.branch)",
			               src->shown,
			               names.len ? "its branches are: " : "it has no branches",
			               names.buf);
		goto out;
	}
	if (rc)
		goto out;
	git_oid_tostr(commit, SL_OID_HEX_MAX + 1, &oid);
	if (resolved) {
		sl_strbuf_reset(resolved);
		sl_strbuf_adds(resolved, candidate.buf);
	}
out:
	sl_strbuf_release(&candidate);
	sl_strbuf_release(&names);
	return rc;
}

struct walk {
	git_repository *repo;
	git_odb *odb;
	const char *commit;
	size_t max_size;
	sl_gitsrc_walk_fn fn;
	void *ctx;
	struct sl_strbuf path;
	struct sl_strbuf problem;
	struct sl_strbuf *err;
};

static bool is_dag_file(const char *name)
{
	size_t len = strlen(name);

	return (len > 5 && !strcmp(name + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(name + len - 4, ".yml"));
}

static int visit_blob(struct walk *w, const git_tree_entry *e)
{
	const git_oid *oid = git_tree_entry_id(e);
	char hex[GIT_OID_HEXSZ + 1];
	struct sl_gitsrc_file file = {.path = w->path.buf, .blob_id = hex};
	git_blob *blob = NULL;
	git_object_t type;
	size_t size = 0;
	int rc;

	git_oid_tostr(hex, sizeof(hex), oid);
	sl_strbuf_reset(&w->problem);
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		sl_strbuf_adds(&w->problem, "is a symbolic link; DAG files are read from git "
		                            "objects and links are not followed");
		goto call;
	}
	/* The header gives the size without inflating the object, so an
	 * oversized blob is never read into memory. */
	rc = git_odb_read_header(&size, &type, w->odb, oid);
	if (rc < 0)
		return sl__git_fail(w->err, rc, "cannot read %s at commit %.12s", w->path.buf,
		                    w->commit);
	file.size = size;
	if (size > w->max_size) {
		sl_strbuf_addf(&w->problem, "file is %zu bytes, over the size limit of %zu bytes",
		               size, w->max_size);
		goto call;
	}
	rc = git_blob_lookup(&blob, w->repo, oid);
	if (rc < 0)
		return sl__git_fail(w->err, rc, "cannot read %s at commit %.12s", w->path.buf,
		                    w->commit);
	file.size = (size_t)git_blob_rawsize(blob);
	file.data = file.size ? git_blob_rawcontent(blob) : "";
call:
	file.problem = w->problem.len ? w->problem.buf : NULL;
	rc = w->fn(&file, w->ctx, w->err);
	git_blob_free(blob);
	return rc;
}

static int visit_tree(struct walk *w, const git_tree *tree, int depth)
{
	size_t base = w->path.len;

	if (depth > MAX_DEPTH) {
		sl_strbuf_addf(w->err, "folders nested more than %d deep at %s (commit %.12s)",
		               MAX_DEPTH, w->path.buf, w->commit);
		return SL_ETOOBIG;
	}
	for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);
		git_object_t type = git_tree_entry_type(e);
		int rc = 0;

		if (name[0] == '.')
			continue;
		if (base)
			sl_strbuf_addch(&w->path, '/');
		sl_strbuf_adds(&w->path, name);
		if (type == GIT_OBJECT_TREE) {
			git_tree *sub = NULL;

			rc = git_tree_lookup(&sub, w->repo, git_tree_entry_id(e));
			if (rc < 0)
				rc = sl__git_fail(w->err, rc,
				                  "cannot read folder %s at commit %.12s",
				                  w->path.buf, w->commit);
			else
				rc = visit_tree(w, sub, depth + 1);
			git_tree_free(sub);
		} else if (type == GIT_OBJECT_BLOB && is_dag_file(name)) {
			rc = visit_blob(w, e);
		}
		/* Anything else (a submodule's commit) is not ours to read. */
		sl_strbuf_setlen(&w->path, base);
		if (rc)
			return rc;
	}
	return 0;
}

/* "dags", "./dags/", "dags//" -> "dags"; ".", "./", "" -> "". */
static void normalise_path(struct sl_strbuf *out, const char *path)
{
	while (path && *path) {
		size_t len = strcspn(path, "/");

		if (len && !(len == 1 && path[0] == '.')) {
			if (out->len)
				sl_strbuf_addch(out, '/');
			sl_strbuf_add(out, path, len);
		}
		path += len;
		path += strspn(path, "/");
	}
}

static bool is_hex_oid(const char *s)
{
	size_t len = strspn(s, "0123456789abcdef");

	return !s[len] && len == GIT_OID_HEXSZ;
}

int sl_gitsrc_walk(struct sl_gitsrc *src, const char *commit, const char *path, size_t max_size,
                   sl_gitsrc_walk_fn fn, void *ctx, struct sl_strbuf *err)
{
	struct walk w = {
	    .repo = src->repo,
	    .commit = commit,
	    .max_size = max_size ? max_size : DEFAULT_MAX_SIZE,
	    .fn = fn,
	    .ctx = ctx,
	    .path = SL_STRBUF_INIT,
	    .problem = SL_STRBUF_INIT,
	    .err = err,
	};
	struct sl_strbuf folder = SL_STRBUF_INIT;
	git_commit *c = NULL;
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *entry = NULL;
	git_oid oid;
	int rc;

	if (!is_hex_oid(commit) || git_oid_fromstr(&oid, commit) < 0) {
		sl_strbuf_addf(err, "'%s' is not a commit id", commit);
		rc = SL_EINVAL;
		goto out;
	}
	rc = git_commit_lookup(&c, src->repo, &oid);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot read commit %s of %s", commit, src->shown);
		goto out;
	}
	rc = git_commit_tree(&root, c);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot read the tree of commit %s", commit);
		goto out;
	}
	rc = git_repository_odb(&w.odb, src->repo);
	if (rc < 0) {
		rc = sl__git_fail(err, rc, "cannot open the object database of %s", src->shown);
		goto out;
	}
	normalise_path(&folder, path);
	if (folder.len) {
		rc = git_tree_entry_bypath(&entry, root, folder.buf);
		if (rc == GIT_ENOTFOUND || (!rc && git_tree_entry_type(entry) != GIT_OBJECT_TREE)) {
			sl_strbuf_addf(err, "there is no folder '%s' at commit %.12s of %s",
			               folder.buf, commit, src->shown);
			rc = SL_ENOENT;
			goto out;
		}
		if (rc < 0) {
			rc = sl__git_fail(err, rc, "cannot read '%s' at commit %.12s", folder.buf,
			                  commit);
			goto out;
		}
		rc = git_tree_lookup(&sub, src->repo, git_tree_entry_id(entry));
		if (rc < 0) {
			rc = sl__git_fail(err, rc, "cannot read folder '%s' at commit %.12s",
			                  folder.buf, commit);
			goto out;
		}
		sl_strbuf_add(&w.path, folder.buf, folder.len);
	}
	rc = visit_tree(&w, sub ? sub : root, 0);
out:
	git_tree_free(sub);
	git_tree_entry_free(entry);
	git_tree_free(root);
	git_commit_free(c);
	git_odb_free(w.odb);
	sl_strbuf_release(&w.path);
	sl_strbuf_release(&w.problem);
	sl_strbuf_release(&folder);
	return rc;
}
