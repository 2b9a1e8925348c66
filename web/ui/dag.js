// A DAG's page (#/dags/NAME): the grid of its latest runs (columns) by
// task (rows), as Airflow's grid view; a cell's title gives the try and
// the duration, a click its details. A live update asks for the grid
// again (one request, GET .../grid) and recolours the graph it already
// has: the layout is drawn once per visit.
import {api, ApiError, atLeast} from "./api.js";
import {duration, h, seconds, when} from "./dom.js";
import {sourceCard} from "./source.js";
import {legend, stateBadge, stateInfo} from "./states.js";

const RUNS = 25;

function details(dag, run, t) {
  const commit = run.commit;
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

// The table of `runs` (oldest first) by task; `pick(run, task)` shows a
// cell's details.
function grid(dag, runs, pick) {
  const tasks = [];
  for (const r of runs)
    for (const t of r.tasks)
      if (!tasks.includes(t.task)) tasks.push(t.task);
  const head = h("tr", {}, h("th", {scope: "col"}, "Task"),
    runs.map((r) => h("th", {scope: "col", class: "run-head"},
      stateBadge(r.state, r.run_id), h("a", {class: "run-id", href: `#/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(r.run_id)}`}, r.run_id))));
  const rows = tasks.map((name) => h("tr", {}, h("th", {scope: "row"}, name),
    runs.map((r) => {
      const t = r.tasks.find((x) => x.task === name);
      if (!t) return h("td", {class: "empty"}, "");
      const title = `${r.run_id} · ${name} · try ${t.try_number ?? 0} · ${duration(seconds(t.started_at, t.ended_at))}`;
      return h("td", {}, stateBadge(t.state, title, "button",
        {type: "button", class: `state state-${t.state} cell`,
         "data-run": r.run_id, "data-task": name, onclick: () => pick(r.run_id, name)}));
    })));
  return h("div", {class: "table-wrap"},
           h("table", {class: "grid", id: "grid", "aria-label": `runs of ${dag}, by task`},
             h("thead", {}, head), h("tbody", {}, rows)));
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

// Gives each node the state of its task in `newest` (null: no run),
// replacing what an earlier call gave it.
function colour(svg, newest) {
  for (const g of svg.querySelectorAll("g.node-state")) {
    g.classList.remove("node-state", `state-${g.dataset.state}`);
    delete g.dataset.state;
  }
  for (const t of (newest?.tasks || [])) {
    const g = svg.querySelector(`g[id="task-${CSS.escape(t.task)}"]`);
    if (!g) continue;
    g.classList.add("node-state", `state-${t.state}`);
    g.dataset.state = t.state;
    const title = g.querySelector("title");
    if (title) title.textContent = `${t.task}: ${stateInfo(t.state).label}`;
  }
}

// The figure, and `show(newest)` to put the states of the newest run on it.
async function graph(dag) {
  const caption = h("figcaption", {class: "muted"});
  const fig = h("figure", {class: "card graph", id: "dag-graph",
                           "aria-label": `The tasks of ${dag} and their dependencies`}, caption);
  let svg = null;
  const show = (newest) => {
    caption.textContent = newest
      ? `The latest version's tasks, in the states of run ${newest.run_id}.`
      : "The latest version's tasks, laid out by Graphviz.";
    if (svg) colour(svg, newest);
  };
  const r = await fetch(`/api/v1/dags/${encodeURIComponent(dag)}/graph`,
                        {credentials: "same-origin", cache: "no-store"});
  if (r.ok) {
    const doc = new DOMParser().parseFromString(await r.text(), "image/svg+xml");
    const root = doc.documentElement;
    if (root.namespaceURI === SVG_NS && root.localName === "svg") {
      svg = document.importNode(cleanSvg(root), true);
      svg.setAttribute("role", "img");
      fig.prepend(svg);
    }
  }
  return {fig, show};
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
      note.replaceChildren(`Run ${run.run_id} created.`,
                           ...(run.notes || []).map((n) => h("span", {class: "trigger-notice"}, " ", n, ".")));
    } catch (e) {
      note.className = "error";
      note.setAttribute("role", "alert");
      note.textContent = e.message;
    }
  });
  return form;
}

// Draws the page; returns a function that draws its runs again with
// fresh data, keeping the graph's layout, the form's values, the chosen
// DAG file, the cell whose details are shown and the keyboard's focus.
export async function renderDag(main, session, dag) {
  const title = h("h1", {}, h("a", {href: "#/dags"}, "DAGs"), " / ", dag);
  const path = `/api/v1/dags/${encodeURIComponent(dag)}`;
  main.replaceChildren(title, h("p", {class: "muted"}, "Loading runs…"));
  let data, detail, pic;
  try {
    [data, detail, pic] = await Promise.all([api("GET", `${path}/grid?runs=${RUNS}`),
                                             api("GET", path), graph(dag)]);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    main.replaceChildren(title, h("p", {class: "notice", role: "status"}, e.message));
    return null;
  }
  const form = atLeast(session, "operator") && detail.params ? triggerForm(dag, detail.params)
                                                             : null;
  const runsBox = h("div", {id: "runs-box"});
  const panel = h("section", {class: "card", id: "cell-details", "aria-live": "polite"});
  let runs = [], chosen = null;
  const pick = (runId, task) => {
    chosen = {runId, task};
    const run = runs.find((r) => r.run_id === runId);
    const t = run?.tasks.find((x) => x.task === task);
    panel.replaceChildren(t ? details(dag, run, t)
                            : h("p", {class: "muted"}, "Choose a cell for its details."));
  };
  const draw = (doc) => {
    const focused = document.activeElement?.closest?.("#grid button.cell");
    const keep = focused && {run: focused.dataset.run, task: focused.dataset.task};
    runs = (doc.runs || []).slice().reverse();
    runsBox.replaceChildren(...(runs.length ? [grid(dag, runs, pick), panel, legend()]
                                            : [h("p", {class: "muted"}, "No runs yet.")]));
    pick(chosen?.runId, chosen?.task);
    pic.show(runs.length ? runs[runs.length - 1] : null);
    if (keep)
      runsBox.querySelector(`#grid button.cell[data-run="${CSS.escape(keep.run)}"]` +
                            `[data-task="${CSS.escape(keep.task)}"]`)?.focus({preventScroll: true});
  };
  draw(data);
  main.replaceChildren(title, runsBox, pic.fig, ...(form ? [form] : []),
                       sourceCard(dag, detail.versions));
  return async () => draw(await api("GET", `${path}/grid?runs=${RUNS}`));
}
