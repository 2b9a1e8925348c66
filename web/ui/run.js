// A run's page (#/dags/DAG/runs/RUN): its facts, and a Gantt of its task
// instances, one row per task in the run's order (the DAG's topological
// order), a bar from each one's start to its end (a running task's to now,
// growing while the page is shown), coloured by state with its letter.
import {api, ApiError} from "./api.js";
import {duration, h, seconds, timeEl} from "./dom.js";
import {legend, stateBadge, stateInfo} from "./states.js";

const enc = encodeURIComponent;

// A time as the browser's local time, with its ISO value on hover.

function facts(run) {
  const conf = JSON.stringify(run.conf || {});
  return h("dl", {class: "details", id: "run-facts"},
    h("dt", {}, "State"), h("dd", {}, stateBadge(run.state), " ", run.state),
    h("dt", {}, "Type"), h("dd", {}, run.run_type),
    h("dt", {}, "Logical date"), h("dd", {}, timeEl(run.logical_date)),
    h("dt", {}, "Commit"), h("dd", {}, h("code", {title: run.commit}, run.commit.slice(0, 10))),
    h("dt", {}, "Conf"), h("dd", {}, conf === "{}" ? h("span", {class: "muted"}, "none")
                                                  : h("code", {class: "conf"}, conf)),
    h("dt", {}, "Started"), h("dd", {}, timeEl(run.started_at)),
    h("dt", {}, "Ended"), h("dd", {}, timeEl(run.ended_at)),
    h("dt", {}, "Duration"), h("dd", {}, run.started_at
      ? duration(seconds(run.started_at, run.ended_at || new Date().toISOString())) : "—"));
}

// A tick every `step` seconds, the step the first that gives at most 6.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];

function ticks(span) {
  const step = STEPS.find((s) => span / s <= 6) || Math.ceil(span / 6);
  const out = [];
  for (let t = 0; t <= span; t += step) out.push(t);
  return out;
}

// The chart for `run` at `now` (ms): CSS grid rows, each bar placed by
// percentages of the span from the first start to the last end.
export function gantt(dag, run, now) {
  const tasks = run.tasks || [];
  const started = tasks.filter((t) => t.started_at);
  if (!started.length)
    return h("p", {class: "muted", id: "gantt"}, "No task has started yet.");
  const end = (t) => (t.ended_at ? new Date(t.ended_at).getTime() : now);
  const t0 = Math.min(...started.map((t) => new Date(t.started_at).getTime()));
  const t1 = Math.max(t0 + 1000, ...started.map(end));
  const span = (t1 - t0) / 1000;
  const pct = (ms) => `${((ms - t0) / (t1 - t0) * 100).toFixed(3)}%`;
  const axis = h("div", {class: "gantt-axis", "aria-hidden": "true"},
    ticks(span).map((s) => h("span", {class: "gantt-tick", dataset: {at: s}},
                             s ? `+${duration(s)}` : "0")));
  // Positions go in through the CSSOM: the page's CSP forbids style attributes.
  axis.querySelectorAll(".gantt-tick").forEach((el) => {
    el.style.left = pct(t0 + Number(el.dataset.at) * 1000);
  });
  const rows = tasks.map((t) => {
    const href = `#/dags/${enc(dag)}/runs/${enc(run.run_id)}/tasks/${enc(t.task)}`;
    const label = h("a", {href, class: "gantt-label"}, t.task);
    const track = h("div", {class: "gantt-track"});
    if (t.started_at) {
      const took = duration((end(t) - new Date(t.started_at).getTime()) / 1000);
      const title = `${t.task}: ${stateInfo(t.state).label}, try ${t.try_number ?? 0}, ` +
                    `${took}${t.ended_at ? "" : " so far"}`;
      const bar = stateBadge(t.state, null, "span", {
        class: `state state-${t.state} gantt-bar`, tabindex: "0", title, "aria-label": title,
        dataset: {task: t.task, state: t.state || "none"}});
      bar.style.left = `min(${pct(new Date(t.started_at).getTime())}, 100% - 2.1em)`;
      bar.style.width = `max(2.1em, ${((end(t) - new Date(t.started_at).getTime()) /
                                       (t1 - t0) * 100).toFixed(3)}%)`;
      track.append(bar);
    } else {
      track.append(h("span", {class: "muted gantt-none"}, `${stateInfo(t.state).label}, not started`));
    }
    return h("div", {class: "gantt-row", role: "listitem"}, label, track);
  });
  return h("figure", {class: "card gantt", id: "gantt"},
    h("figcaption", {}, "Task instances from ", timeEl(new Date(t0).toISOString()),
      ` (${duration(span)} shown)`),
    h("div", {class: "gantt-row gantt-head"}, h("span", {class: "muted"}, "Task"), axis),
    h("div", {role: "list", "aria-label": `task instances of run ${run.run_id}`}, rows));
}

// Draws the page; returns a function that draws it again with fresh data.
// While a task runs, its bar grows each second without asking the API.
export async function renderRun(main, dag, runId) {
  const title = h("h1", {}, h("a", {href: "#/dags"}, "DAGs"), " / ",
    h("a", {href: `#/dags/${enc(dag)}`}, dag), " / ", runId);
  main.replaceChildren(title, h("p", {class: "muted"}, "Loading…"));
  let run, timer = null;
  try {
    run = await api("GET", `/api/v1/dags/${enc(dag)}/runs/${enc(runId)}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    main.replaceChildren(title, h("p", {class: "notice", role: "status"}, e.message));
    return null;
  }
  const chart = h("section", {class: "gantt-box"});
  const factsBox = h("section", {class: "card"});

  function draw() {
    factsBox.replaceChildren(facts(run));
    chart.replaceChildren(h("h2", {}, "Gantt"), gantt(dag, run, Date.now()), legend());
    clearInterval(timer);
    const live = run.tasks.some((t) => t.started_at && !t.ended_at);
    if (live) {
      timer = setInterval(() => {
        if (!main.contains(chart)) return clearInterval(timer); // another page now
        // Redrawn whole; a bar that had the focus keeps it.
        const focused = document.activeElement?.dataset?.task;
        chart.querySelector("#gantt").replaceWith(gantt(dag, run, Date.now()));
        if (focused !== undefined)
          chart.querySelector(`.gantt-bar[data-task="${CSS.escape(focused)}"]`)?.focus();
      }, 1000);
    }
  }
  draw();
  main.replaceChildren(title, factsBox, chart);
  return async () => {
    run = await api("GET", `/api/v1/dags/${enc(dag)}/runs/${enc(runId)}`);
    draw();
  };
}
