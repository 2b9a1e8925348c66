// The API as the UI uses it: the session's cookie goes with every request
// (same origin), and the session's CSRF token with every one that changes
// something, as sluice-web demands (docs/web.md, "Signing in").
let csrf = null;
let openapi = null;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  let doc = null;
  try { doc = await r.json(); } catch { doc = null; }
  if (!r.ok) throw new ApiError(r.status, (doc && doc.detail) || `${r.status} ${r.statusText}`);
  return doc;
}

// The signed-in session ({user, role, csrf}), or null.
export async function currentSession() {
  try {
    const s = await api("GET", "/api/v1/session");
    csrf = s.csrf;
    return s;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function signIn(user, password) {
  const s = await api("POST", "/api/v1/session", {user, password});
  csrf = s.csrf;
  return s;
}

export async function signOut() {
  try {
    await api("DELETE", "/api/v1/session");
  } finally {
    csrf = null;
  }
}

// Whether this daemon has operation `method` on `path` (as its OpenAPI
// document names them): the UI offers only what the server can do.
export async function hasOperation(method, path) {
  if (!openapi) openapi = await api("GET", "/api/v1/openapi.json");
  const ops = openapi.paths && openapi.paths[path];
  return Boolean(ops && ops[method.toLowerCase()]);
}

export const ROLES = ["viewer", "operator", "admin"];
export function atLeast(session, role) {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}
