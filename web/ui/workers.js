// Workers and queues (#/workers): each worker's host, queues, slots in
// use, last heartbeat and whether it is alive (a worker silent past the
// heartbeat timeout is lost), and each queue's depth, from GET
// /api/v1/workers and GET /api/v1/status (`sluice workers list` and
// `sluice status`).
import {api} from "./api.js";
import {duration, h, timeEl} from "./dom.js";

// Alive or lost by a symbol and a word, not by colour alone.
function liveness(w) {
  if (w.stale) return h("span", {class: "pill lost"}, "✗ lost");
  if (w.state !== "active") return h("span", {class: "pill"}, `‖ ${w.state}`);
  return h("span", {class: "pill alive"}, "✓ alive");
}

function workersTable(workers) {
  if (!workers.length) return h("p", {class: "muted", id: "workers-empty"}, "No workers.");
  return h("div", {class: "table-wrap"}, h("table", {class: "workers", id: "workers"},
    h("thead", {}, h("tr", {}, ["Worker", "Host", "Queues", "Slots used", "Last heartbeat",
                                "State"].map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, workers.map((w) => h("tr", {dataset: {worker: w.worker}},
      h("th", {scope: "row"}, w.worker),
      h("td", {}, w.host),
      h("td", {}, w.queues.map((q) => h("span", {class: "tag"}, q))),
      h("td", {}, `${w.running} / ${w.slots}`),
      h("td", {}, `${duration(w.heartbeat_age_seconds)} ago `,
        h("span", {class: "muted"}, "(", timeEl(w.last_heartbeat_at), ")")),
      h("td", {}, liveness(w)))))));
}

function queuesTable(queues) {
  if (!queues.length) return h("p", {class: "muted", id: "queues-empty"}, "No queues.");
  return h("div", {class: "table-wrap"}, h("table", {class: "queues", id: "queues"},
    h("thead", {}, h("tr", {}, ["Queue", "Scheduled", "Queued", "Served"]
      .map((c) => h("th", {scope: "col"}, c)))),
    h("tbody", {}, queues.map((q) => h("tr", {dataset: {queue: q.queue}},
      h("th", {scope: "row"}, q.queue),
      h("td", {}, String(q.scheduled)), h("td", {}, String(q.queued)),
      h("td", {}, q.served ? "✓ by a live worker" : h("strong", {}, "✗ no live worker")))))));
}

function summary(st) {
  const s = st.scheduler;
  return h("dl", {class: "details", id: "status-facts"},
    h("dt", {}, "Scheduler"), h("dd", {}, s.alive ? `✓ ${s.holder} holds the lease`
                                                 : "✗ no scheduler holds the lease"),
    // Lost: active or draining, but silent past the heartbeat timeout.
    h("dt", {}, "Workers"), h("dd", {}, `${st.workers.active} active, ${st.workers.draining} ` +
                                       `draining (${st.workers.stale} of them lost), ` +
                                       `${st.workers.gone} gone`),
    h("dt", {}, "Runs"), h("dd", {}, `${st.runs.running} running, ${st.runs.queued} queued`));
}

// Draws the page; returns a function that reads both documents again.
export async function renderWorkers(main) {
  const box = h("div", {});
  async function reload() {
    const [workers, st] = await Promise.all([api("GET", "/api/v1/workers"),
                                             api("GET", "/api/v1/status")]);
    box.replaceChildren(h("section", {class: "card"}, summary(st)),
                        h("h2", {}, "Workers"), workersTable(workers),
                        h("h2", {}, "Queues"), queuesTable(st.queues || []));
  }
  await reload();
  main.replaceChildren(h("h1", {}, "Workers and queues"), box);
  return reload;
}
