// sluice's web UI: hash routing (#/dags, #/dags/NAME,
// #/dags/NAME/runs/RUN/tasks/TASK[/TRY]), the header with the
// signed-in user, and the pages. Plain ES modules, no build step.
import {ApiError, currentSession, signOut} from "./api.js";
import {renderDag} from "./dag.js";
import {renderDags} from "./dags.js";
import {renderTask} from "./task.js";
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
    h("nav", {"aria-label": "main"}, h("a", {href: "#/dags"}, "DAGs")),
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
    const m = hash.match(/^#\/dags\/(.+)$/);
    if (t) {
      const [dag, run, task] = t.slice(1, 4).map(decodeURIComponent);
      document.title = `${task} · ${run} · ${dag} · sluice`;
      const page = await renderTask(main, session, dag, run, task, t[4] ? Number(t[4]) : null);
      live(`/api/v1/events?dag=${encodeURIComponent(dag)}`, () => page.refresh().catch(failed),
           page.onLog);
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
