// A task instance's page (#/dags/DAG/runs/RUN/tasks/TASK[/N]): its state,
// the try selector, the try's outputs, exit code, worker and timings, and
// its log, followed live: a `log` event for this try fetches only the new
// bytes (a Range request from the length already shown). An operator may
// clear the task, which runs it again.
import {api, ApiError, atLeast} from "./api.js";
import {duration, h, seconds, when} from "./dom.js";
import {stateBadge} from "./states.js";

function path(dag, run, task) {
  return `/api/v1/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(run)}` +
         (task === undefined ? "" : `/tasks/${encodeURIComponent(task)}`);
}

// The log of one try: its last TAIL bytes at first, then what comes after
// them, a part at a time (sluice-web answers a Range request with 1 MiB at
// most, and says in Content-Range how long the log is).
const TAIL = 1 << 20;

class LogView {
  constructor(url) {
    this.url = url;
    this.next = null; // the first byte not shown yet; null: nothing asked for yet
    this.note = h("p", {class: "muted", id: "log-note"});
    this.pre = h("pre", {id: "log", class: "log", tabindex: "0", "aria-label": "log"});
    this.decoder = new TextDecoder();
    this.busy = null;
  }

  // Fetches what is past the bytes shown (the log's tail the first time).
  more() {
    if (this.busy) return this.busy.then(() => this.more());
    this.busy = (async () => {
      for (;;) {
        const range = this.next === null ? `bytes=-${TAIL}` : `bytes=${this.next}-`;
        const r = await fetch(this.url, {headers: {Range: range}, credentials: "same-origin",
                                         cache: "no-store"});
        if (r.status === 416 || r.status === 404) return; // nothing new, or no log yet
        if (!r.ok) throw new ApiError(r.status, `${r.status} ${r.statusText}`);
        const buf = new Uint8Array(await r.arrayBuffer());
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.headers.get("Content-Range") || "");
        const first = m ? Number(m[1]) : 0, total = m ? Number(m[3]) : buf.length;
        if (this.next === null && first > 0)
          this.note.append(`The first ${first} bytes are not shown here. `,
                           h("a", {href: this.url, download: ""}, "The whole log"), ".");
        this.next = first + buf.length;
        const stick = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
        this.pre.append(this.decoder.decode(buf, {stream: true}));
        if (stick) this.pre.scrollTop = this.pre.scrollHeight;
        if (this.next >= total || !buf.length) return;
      }
    })().finally(() => { this.busy = null; });
    return this.busy;
  }
}

function facts(t, tr) {
  return h("dl", {class: "details", id: "task-facts"},
    h("dt", {}, "State"), h("dd", {}, stateBadge(t.state), " ", t.state),
    h("dt", {}, "Try"), h("dd", {}, String(tr?.try_number ?? "—")),
    h("dt", {}, "Outcome"), h("dd", {}, tr?.outcome ?? "—"),
    h("dt", {}, "Exit code"), h("dd", {id: "exit-code"}, tr?.exit_code ?? "—"),
    h("dt", {}, "Worker"), h("dd", {}, tr?.worker ?? "—"),
    h("dt", {}, "Started"), h("dd", {}, when(tr?.started_at)),
    h("dt", {}, "Ended"), h("dd", {}, when(tr?.ended_at)),
    h("dt", {}, "Duration"), h("dd", {}, duration(seconds(tr?.started_at, tr?.ended_at))),
    h("dt", {}, "Reason"), h("dd", {}, tr?.reason ?? t.reason ?? "—"));
}

function outputs(t) {
  const entries = Object.entries(t.outputs || {});
  if (!entries.length) return h("p", {class: "muted"}, "No outputs.");
  return h("table", {class: "outputs", id: "outputs"},
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", {scope: "row"}, k),
                                                  h("td", {}, String(v))))));
}

// Draws the page; returns {refresh, onLog} for the live updates.
export async function renderTask(main, session, dag, run, task, wanted) {
  let chosen = wanted; // a try the user picked; null: follow the latest
  let view = null, shownTry = null;
  const title = h("h1", {}, h("a", {href: "#/dags"}, "DAGs"), " / ",
    h("a", {href: `#/dags/${encodeURIComponent(dag)}`}, dag), " / ",
    h("a", {href: `#/dags/${encodeURIComponent(dag)}/runs/${encodeURIComponent(run)}`}, run),
    " / ", task);
  main.replaceChildren(title, h("p", {class: "muted"}, "Loading…"));

  async function draw() {
    const doc = await api("GET", path(dag, run));
    const t = (doc.tasks || []).find((x) => x.task === task);
    if (!t) throw new ApiError(404, `run '${run}' of DAG '${dag}' has no task '${task}'`);
    const tries = t.tries || [];
    const n = chosen ?? (tries.length ? tries[tries.length - 1].try_number : null);
    const tr = tries.find((x) => x.try_number === n) || null;
    const picker = h("nav", {class: "tries", "aria-label": "tries"},
      tries.length ? tries.map((x) => h("button", {
        type: "button", class: "try" + (x.try_number === n ? " current" : ""),
        "aria-pressed": x.try_number === n ? "true" : "false", dataset: {try: x.try_number},
        onclick: () => { chosen = x.try_number; draw().catch(() => {}); },
      }, `Try ${x.try_number}`, " ", stateBadge(x.outcome || t.state))) :
      h("span", {class: "muted"}, "Not tried yet."));
    const actions = [];
    if (atLeast(session, "operator")) {
      const clear = h("button", {type: "button", id: "clear-task"}, "Clear (run again)");
      clear.addEventListener("click", async () => {
        clear.disabled = true;
        try {
          await api("POST", `${path(dag, run)}/clear`, {tasks: [task]});
          chosen = null;
          await draw();
        } catch (e) {
          clear.after(h("p", {class: "error", role: "alert"}, e.message));
          clear.disabled = false;
        }
      });
      actions.push(clear);
    }
    if (n !== shownTry) {
      view = n === null ? null : new LogView(`${path(dag, run, task)}/tries/${n}/log`);
      shownTry = n;
      if (view) await view.more();
    }
    main.replaceChildren(title,
      h("section", {class: "card"}, picker, facts(t, tr), h("div", {class: "actions"}, actions)),
      h("section", {class: "card"}, h("h2", {}, "Outputs"), outputs(tr ? t : {})),
      h("section", {class: "card"}, h("h2", {}, n === null ? "Log" : `Log of try ${n}`),
        view ? [view.note, view.pre] : h("p", {class: "muted"}, "No log yet.")));
  }

  await draw();
  return {
    refresh: () => draw(),
    // A `log` event: new bytes of this task's try. Bytes of a try not shown
    // yet mean a new try began: the task event that said so may have come
    // before its attempt was written, so the page is drawn again to follow it.
    onLog: (ev) => {
      if (ev.run_id !== run || ev.task !== task) return;
      if (view && ev.try === shownTry) view.more();
      else if (chosen === null) draw().catch(() => {});
    },
  };
}
