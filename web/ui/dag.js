// A DAG's page (#/dags/NAME): the grid of its latest runs (columns) by
// task (rows), as Airflow's grid view; a cell's title gives the try and
// the duration, a click its details.
import {api, ApiError, atLeast} from "./api.js";
import {duration, h, when} from "./dom.js";
import {sourceCard} from "./source.js";
import {legend, stateBadge, stateInfo} from "./states.js";

const RUNS = 25;

function seconds(a, b) {
  if (!a || !b) return null;
  return (new Date(b) - new Date(a)) / 1000;
}

function details(dag, run, t, commit) {
  const href = `#/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(run.run_id)}` +
               `/tasks/${encodeURIComponent(t.task)}`;
  return h("dl", {class: "details"},
    h("dt", {}, "Run"), h("dd", {}, run.run_id),
    h("dt", {}, "Task"), h("dd", {}, t.task),
    h("dt", {}, "State"), h("dd", {}, stateBadge(t.state), " ", t.state),
    h("dt", {}, "Try"), h("dd", {}, String(t.try_number ?? "—")),
    h("dt", {}, "Started"), h("dd", {}, when(t.started_at)),
    h("dt", {}, "Ended"), h("dd", {}, when(t.ended_at)),
    h("dt", {}, "Duration"), h("dd", {}, duration(seconds(t.started_at, t.ended_at))),
    h("dt", {}, "Exit code"), h("dd", {}, t.exit_code ?? "—"),
    h("dt", {}, "Worker"), h("dd", {}, t.worker ?? "—"),
    h("dt", {}, "Log"), h("dd", {}, h("a", {href, class: "task-link"}, "Log and details")),
    h("dt", {}, "DAG file"), h("dd", {}, commit ? h("button", {
      type: "button", id: "run-source",
      onclick: () => document.getElementById("source")?.pick(commit),
    }, `as run ${run.run_id} ran it`) : "—"));
}

function grid(dag, runs, info) {
  const tasks = [];
  for (const r of runs)
    for (const t of (info.get(r.run_id)?.tasks || []))
      if (!tasks.includes(t.task)) tasks.push(t.task);
  const panel = h("section", {class: "card", id: "cell-details", "aria-live": "polite"},
                  h("p", {class: "muted"}, "Choose a cell for its details."));
  const head = h("tr", {}, h("th", {scope: "col"}, "Task"),
    runs.map((r) => h("th", {scope: "col", class: "run-head"},
      stateBadge(r.state, r.run_id), h("a", {class: "run-id", href: `#/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(r.run_id)}`}, r.run_id))));
  const rows = tasks.map((name) => h("tr", {}, h("th", {scope: "row"}, name),
    runs.map((r) => {
      const t = (info.get(r.run_id)?.tasks || []).find((x) => x.task === name);
      if (!t) return h("td", {class: "empty"}, "");
      const title = `${r.run_id} · ${name} · try ${t.try_number ?? 0} · ${duration(seconds(t.started_at, t.ended_at))}`;
      return h("td", {}, stateBadge(t.state, title, "button",
        {type: "button", class: `state state-${t.state} cell`,
         onclick: () => panel.replaceChildren(details(dag, r, t, info.get(r.run_id)?.commit))}));
    })));
  return [h("div", {class: "table-wrap"},
            h("table", {class: "grid", id: "grid", "aria-label": `runs of ${dag}, by task`},
              h("thead", {}, head), h("tbody", {}, rows))),
          panel, legend()];
}

// The DAG's latest version drawn by sluice-web (Graphviz, as SVG), put in
// the page so that each task's node (<g id="task-NAME">) takes the state of
// that task in the newest run: a colour, a border pattern (so that colour
// is not the only signal) and a tooltip. The SVG is parsed as XML, and only
// its shapes, text and titles are kept: nothing in it could run anyway
// (the page's CSP allows no inline script), but it is not trusted either.
const SVG_NS = "http://www.w3.org/2000/svg";
const KEEP = new Set(["svg", "g", "title", "polygon", "path", "ellipse", "polyline", "text"]);

function cleanSvg(node) {
  for (const child of [...node.children]) {
    if (child.namespaceURI !== SVG_NS || !KEEP.has(child.localName)) {
      child.remove();
      continue;
    }
    for (const a of [...child.attributes])
      if (/^on/i.test(a.name) || /href$/i.test(a.name)) child.removeAttribute(a.name);
    cleanSvg(child);
  }
  return node;
}

function colour(svg, newest) {
  for (const t of (newest?.tasks || [])) {
    const g = svg.querySelector(`g[id="task-${CSS.escape(t.task)}"]`);
    if (!g) continue;
    g.classList.add("node-state", `state-${t.state}`);
    g.dataset.state = t.state;
    const title = g.querySelector("title");
    if (title) title.textContent = `${t.task}: ${stateInfo(t.state).label}`;
  }
}

async function graph(dag, newest) {
  const fig = h("figure", {class: "card graph", id: "dag-graph",
                           "aria-label": `The tasks of ${dag} and their dependencies`},
    h("figcaption", {class: "muted"},
      newest ? `The latest version's tasks, in the states of run ${newest.run_id}.`
             : "The latest version's tasks, laid out by Graphviz."));
  const r = await fetch(`/api/v1/dags/${encodeURIComponent(dag)}/graph`,
                        {credentials: "same-origin", cache: "no-store"});
  if (!r.ok) return fig;
  const doc = new DOMParser().parseFromString(await r.text(), "image/svg+xml");
  const svg = doc.documentElement;
  if (svg.namespaceURI !== SVG_NS || svg.localName !== "svg") return fig;
  cleanSvg(svg);
  colour(svg, newest);
  svg.setAttribute("role", "img");
  fig.prepend(document.importNode(svg, true));
  return fig;
}

// One field of the trigger form per param, typed by its default's JSON
// type: a checkbox, a number, a text, or JSON for anything else.
function paramField(name, dflt) {
  const id = `param-${name}`;
  let input, read;
  if (typeof dflt === "boolean") {
    input = h("input", {type: "checkbox", id, name, checked: dflt});
    read = () => input.checked;
  } else if (typeof dflt === "number") {
    input = h("input", {type: "number", id, name, value: dflt,
                        step: Number.isInteger(dflt) ? "1" : "any"});
    read = () => {
      if (input.value.trim() === "") throw new Error(`conf.${name}: a number is needed`);
      return Number(input.value);
    };
  } else if (typeof dflt === "string") {
    input = h("input", {type: "text", id, name, value: dflt});
    read = () => input.value;
  } else {
    input = h("textarea", {id, name, rows: 2}, JSON.stringify(dflt));
    read = () => {
      try { return JSON.parse(input.value); } catch {
        throw new Error(`conf.${name}: not valid JSON`);
      }
    };
  }
  return {name, read, row: h("div", {class: "field"}, h("label", {for: id}, name), input)};
}

// The trigger form, generated from the DAG's params (operators only): its
// values go as the run's conf, checked by sluice-web as `sluice trigger`
// checks them, whose sentence is shown when it refuses.
function triggerForm(dag, params) {
  const fields = Object.entries(params || {}).map(([k, v]) => paramField(k, v));
  const runId = h("input", {type: "text", id: "trigger-run-id", name: "run_id",
                            placeholder: "automatic"});
  const note = h("p", {id: "trigger-note", role: "status"});
  const form = h("form", {class: "card trigger", id: "trigger-form",
                          "aria-label": `trigger ${dag}`},
    h("h2", {}, "Trigger a run"),
    fields.length ? fields.map((f) => f.row) : h("p", {class: "muted"}, "This DAG has no params."),
    h("div", {class: "field"}, h("label", {for: "trigger-run-id"}, "Run id"), runId),
    h("button", {type: "submit", id: "trigger-submit"}, "Trigger"), note);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    note.className = "";
    try {
      const conf = {};
      for (const f of fields) conf[f.name] = f.read();
      const body = {conf};
      if (runId.value.trim()) body.run_id = runId.value.trim();
      const run = await api("POST", `/api/v1/dags/${encodeURIComponent(dag)}/runs`, body);
      note.textContent = `Run ${run.run_id} created.`;
    } catch (e) {
      note.className = "error";
      note.setAttribute("role", "alert");
      note.textContent = e.message;
    }
  });
  return form;
}

// Draws the page (`again`: over itself, without the loading note); returns
// a function that draws it again with fresh data.
export async function renderDag(main, session, dag, again = false) {
  const title = h("h1", {}, h("a", {href: "#/dags"}, "DAGs"), " / ", dag);
  if (!again) main.replaceChildren(title, h("p", {class: "muted"}, "Loading runs…"));
  let list;
  try {
    list = await api("GET", `/api/v1/dags/${encodeURIComponent(dag)}/runs?limit=${RUNS}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    main.replaceChildren(title, h("p", {class: "notice", role: "status"}, e.message));
    return;
  }
  const runs = (list.runs || []).slice(0, RUNS).reverse();
  const docs = await Promise.all(runs.map((r) =>
    api("GET", `/api/v1/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(r.run_id)}`)
      .catch(() => null)));
  const info = new Map(runs.map((r, i) => [r.run_id, docs[i] || {tasks: []}]));
  const newest = runs.length ? info.get(runs[runs.length - 1].run_id) : null;
  const pic = await graph(dag, newest && newest.tasks ? newest : null);
  // The form and the file keep what was typed and chosen when the page is
  // drawn again.
  let form = again ? main.querySelector("#trigger-form") : null;
  let source = again ? main.querySelector("#source") : null;
  if (!source || (!form && atLeast(session, "operator"))) {
    const detail = await api("GET", `/api/v1/dags/${encodeURIComponent(dag)}`);
    if (!form && atLeast(session, "operator") && detail.params)
      form = triggerForm(dag, detail.params);
    if (!source) source = sourceCard(dag, detail.versions);
  }
  main.replaceChildren(title, ...(runs.length ? grid(dag, runs, info)
                                             : [h("p", {class: "muted"}, "No runs yet.")]),
                       pic, ...(form ? [form] : []), source);
  return () => renderDag(main, session, dag, true);
}
