/*
 * The web UI's files (docs/web.md, "The UI"): compiled into the binary by
 * web/ui/embed.py and answered on the loop, since they need no database.
 * They are open to anyone; the data they show comes from /api/v1 with the
 * session's cookie. Every answer carries the headers that keep a page of
 * ours from being framed, from loading script from anywhere else, and from
 * being sniffed as another type.
 */
#include <string.h>

#include <h2o.h>

#include "sluice/httpd.h"
#include "web.h"

/*
 * No inline script or style, no plugin, no other origin; fetch only to
 * this one; no framing (frame-ancestors, and X-Frame-Options for older
 * browsers); forms post only here.
 */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static void add(h2o_req_t *req, const char *name, const char *value)
{
	h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value,
	                      strlen(value));
}

bool web_ui_serve(h2o_req_t *req, const char *path, size_t len)
{
	const char *name;
	size_t nlen;

	if (len == 1 && path[0] == '/') {
		name = "index.html";
		nlen = strlen(name);
	} else if (len > 4 && !memcmp(path, "/ui/", 4)) {
		name = path + 4;
		nlen = len - 4;
	} else {
		return false;
	}
	for (size_t i = 0; i < web_ui_files_nr; i++) {
		const struct web_ui_file *f = &web_ui_files[i];

		if (strlen(f->name) != nlen || memcmp(f->name, name, nlen))
			continue;
		if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
		    !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
			add(req, "allow", "GET, HEAD");
			sl_httpd_problem(req, 405, "this resource takes GET, HEAD");
			return true;
		}
		add(req, "content-security-policy", csp);
		add(req, "x-content-type-options", "nosniff");
		add(req, "referrer-policy", "no-referrer");
		add(req, "x-frame-options", "DENY");
		sl_httpd_respond(req, 200, f->type, (const char *)f->data, f->len);
		return true;
	}
	return false;
}
