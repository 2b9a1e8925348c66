// sluice's web UI: hash routing (#/dags, #/dags/NAME, #/dags/NAME/runs/RUN,
// #/dags/NAME/runs/RUN/tasks/TASK[/TRY], #/pools, #/workers, #/audit,
// #/errors), the header with the signed-in user, and the pages. Plain ES
// modules, no build step.
import {ApiError, atLeast, currentSession, signOut} from "./api.js";
import {renderAudit} from "./audit.js";
import {renderDag} from "./dag.js";
import {renderDags} from "./dags.js";
import {renderErrors} from "./errors.js";
import {renderPools} from "./pools.js";
import {renderRun} from "./run.js";
import {renderTask} from "./task.js";
import {renderWorkers} from "./workers.js";
import {h} from "./dom.js";
import {live, stopLive} from "./live.js";
import {renderLogin} from "./login.js";

const top = document.getElementById("top");
const main = document.getElementById("main");
let session = null;

function header() {
  const brand = h("a", {href: "#/dags", class: "brand"},
                  h("img", {src: "/ui/sluice.svg", alt: "", width: 24, height: 24}), "sluice");
  if (!session) return top.replaceChildren(brand);
  const logout = h("button", {type: "button", id: "logout"}, "Sign out");
  logout.addEventListener("click", async () => {
    try { await signOut(); } catch { /* the session is gone either way */ }
    session = null;
    location.hash = "#/login"; // hashchange shows the sign-in form
  });
  top.replaceChildren(brand,
    h("nav", {"aria-label": "main", class: "main-nav"}, h("a", {href: "#/dags"}, "DAGs"),
      h("a", {href: "#/pools", id: "nav-pools"}, "Pools"),
      h("a", {href: "#/workers", id: "nav-workers"}, "Workers"),
      h("a", {href: "#/errors", id: "nav-errors"}, "Load errors"),
      atLeast(session, "admin") ? h("a", {href: "#/audit", id: "nav-audit"}, "Audit") : null),
    h("span", {class: "who", id: "who"}, h("span", {id: "who-user"}, session.user), " ",
      h("span", {class: "role", id: "who-role"}, session.role)),
    logout);
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) {
    session = null;
    location.hash = "#/login"; // the session has ended: hashchange signs in again
    return;
  }
  main.replaceChildren(h("p", {class: "error", role: "alert"}, e.message));
}

async function route() {
  const hash = location.hash || "#/dags";
  stopLive();
  if (!session) {
    header();
    document.title = "Sign in · sluice";
    renderLogin(main, (s) => {
      session = s;
      if (location.hash === "#/login" || !location.hash) location.hash = "#/dags";
      else route();
    });
    return;
  }
  header();
  try {
    const t = hash.match(/^#\/dags\/([^/]+)\/runs\/([^/]+)\/tasks\/([^/]+)(?:\/(\d+))?$/);
    const r = hash.match(/^#\/dags\/([^/]+)\/runs\/([^/]+)$/);
    const m = hash.match(/^#\/dags\/(.+)$/);
    // The pages that are not a DAG's: their title, and how they are drawn.
    const other = {
      "#/pools": ["Pools", () => renderPools(main, session)],
      "#/workers": ["Workers and queues", () => renderWorkers(main)],
      "#/audit": ["Audit log", () => renderAudit(main, session)],
      "#/errors": ["Load errors", () => renderErrors(main)],
    }[hash];
    if (t) {
      const [dag, run, task] = t.slice(1, 4).map(decodeURIComponent);
      document.title = `${task} · ${run} · ${dag} · sluice`;
      const page = await renderTask(main, session, dag, run, task, t[4] ? Number(t[4]) : null);
      live(`/api/v1/events?dag=${encodeURIComponent(dag)}`, () => page.refresh().catch(failed),
           page.onLog);
    } else if (r) {
      const [dag, run] = r.slice(1, 3).map(decodeURIComponent);
      document.title = `${run} · ${dag} · sluice`;
      const refresh = await renderRun(main, dag, run);
      if (refresh) live(`/api/v1/events?dag=${encodeURIComponent(dag)}`, () => refresh().catch(failed));
    } else if (other) {
      document.title = `${other[0]} · sluice`;
      const refresh = await other[1]();
      if (refresh) live("/api/v1/events", () => refresh().catch(failed));
    } else if (m) {
      const dag = decodeURIComponent(m[1]);
      document.title = `${dag} · sluice`;
      const refresh = await renderDag(main, session, dag);
      if (refresh) live(`/api/v1/events?dag=${encodeURIComponent(dag)}`, () => refresh().catch(failed));
    } else {
      if (hash !== "#/dags") history.replaceState(null, "", "#/dags");
      document.title = "DAGs · sluice";
      const refresh = await renderDags(main, session);
      live("/api/v1/events", () => refresh().catch(failed));
    }
  } catch (e) {
    failed(e);
  }
}

// A new page: keyboard and screen reader users start at its content.
window.addEventListener("hashchange", () => route().then(() => {
  if (session) main.focus({preventScroll: true});
}));
currentSession().then((s) => { session = s; route(); },
                      (e) => main.replaceChildren(h("p", {class: "error", role: "alert"}, e.message)));
