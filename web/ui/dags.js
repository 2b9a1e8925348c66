// The DAG list (#/dags): search, tag filter, schedule and next run, a
// strip of the latest runs, the paused state (a toggle for operators when
// this daemon can pause), and a banner naming the DAGs that do not load.
import {api, atLeast, hasOperation} from "./api.js";
import {h, when} from "./dom.js";
import {stateBadge} from "./states.js";

// The runs of the strip, oldest first: `latest_runs` when the API gives
// them, else the last run alone.
function stripRuns(d) {
  if (Array.isArray(d.latest_runs)) return d.latest_runs.slice(-10);
  return d.last_run ? [d.last_run] : [];
}

function runStrip(d) {
  const runs = stripRuns(d);
  if (!runs.length) return h("span", {class: "muted"}, "no runs");
  return h("span", {class: "strip", "aria-label": `latest runs of ${d.dag}`},
           runs.map((r) => stateBadge(r.state, `${r.run_id} (${when(r.logical_date)})`, "a",
                                      {href: `#/dags/${encodeURIComponent(d.dag)}`})));
}

function tagsOf(d) {
  return Array.isArray(d.tags) ? d.tags : [];
}

function errorBanner(dags) {
  const broken = dags.filter((d) => d.error && !d.removed);
  if (!broken.length) return null;
  return h("div", {class: "banner", role: "alert", id: "load-errors"},
    h("strong", {}, `${broken.length} DAG${broken.length > 1 ? "s" : ""} did not load`),
    " at the latest commit: ",
    broken.map((d, i) => [i ? ", " : "", h("a", {href: `#/dags/${encodeURIComponent(d.dag)}`}, d.dag)]),
    ". ", h("a", {href: "#/errors", id: "load-errors-link"}, "See why"), ".");
}

function pausedCell(d, canToggle, reload) {
  const label = d.paused ? "paused" : "active";
  if (!canToggle) return h("span", {class: `pill ${label}`}, d.paused ? "‖ paused" : "▶ active");
  const button = h("button", {
    type: "button", class: `toggle ${label}`, role: "switch",
    "aria-checked": d.paused ? "false" : "true",
    "aria-label": `${d.dag}: ${d.paused ? "paused, unpause" : "active, pause"}`,
    dataset: {dag: d.dag},
  }, d.paused ? "‖ paused" : "▶ active");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("PATCH", `/api/v1/dags/${encodeURIComponent(d.dag)}`, {paused: !d.paused});
      await reload();
    } catch (e) {
      button.disabled = false;
      alert(`${d.dag}: ${e.message}`);
    }
  });
  return button;
}

// Draws the page; returns a function that reads the DAGs again and
// redraws the rows and the banner in place (the search and the focus stay).
export async function renderDags(main, session) {
  let [dags, canPause] = await Promise.all([
    api("GET", "/api/v1/dags"),
    atLeast(session, "operator") ? hasOperation("PATCH", "/api/v1/dags/{dag}").catch(() => false)
                                 : false,
  ]);
  const search = h("input", {type: "search", id: "dag-search", placeholder: "Search DAGs",
                             "aria-label": "Search DAGs by name", autocomplete: "off"});
  const tagSelect = h("select", {id: "dag-tag", "aria-label": "Filter by tag"});
  const tbody = h("tbody", {});
  const count = h("p", {class: "muted", id: "dag-count", "aria-live": "polite"});
  const banner = h("div", {});

  function tagOptions() {
    const tags = [...new Set(dags.flatMap(tagsOf))].sort(), chosen = tagSelect.value;
    tagSelect.hidden = !tags.length;
    tagSelect.replaceChildren(h("option", {value: ""}, "All tags"),
                              ...tags.map((t) => h("option", {value: t}, t)));
    tagSelect.value = tags.includes(chosen) ? chosen : "";
  }
  function fill() {
    const q = search.value.trim().toLowerCase(), tag = tagSelect.value;
    const shown = dags.filter((d) => !d.removed && d.dag.toLowerCase().includes(q) &&
                                     (!tag || tagsOf(d).includes(tag)));
    tbody.replaceChildren(...shown.map((d) => h("tr", {dataset: {dag: d.dag}},
      h("th", {scope: "row", "data-label": "DAG"},
        h("a", {href: `#/dags/${encodeURIComponent(d.dag)}`, class: "dag-link"}, d.dag),
        tagsOf(d).map((t) => h("span", {class: "tag"}, t))),
      h("td", {"data-label": "Schedule"}, h("code", {}, d.schedule || "none"),
        d.timezone ? h("span", {class: "muted"}, ` ${d.timezone}`) : null),
      h("td", {"data-label": "Next run"}, d.next_run_at ? when(d.next_run_at) : "—"),
      h("td", {"data-label": "Runs"}, runStrip(d)),
      h("td", {"data-label": "State"}, pausedCell(d, canPause, refresh)))));
    count.textContent = `${shown.length} of ${dags.filter((d) => !d.removed).length} DAGs`;
    banner.replaceChildren(errorBanner(dags) || "");
  }
  async function refresh() {
    dags = await api("GET", "/api/v1/dags");
    tagOptions();
    fill();
  }
  search.addEventListener("input", fill);
  tagSelect.addEventListener("change", fill);
  tagOptions();
  fill();
  main.replaceChildren(
    h("h1", {}, "DAGs"),
    banner,
    h("div", {class: "filters"}, search, tagSelect, count),
    h("div", {class: "table-wrap"},
      h("table", {class: "dags", id: "dags"},
        h("thead", {}, h("tr", {},
          ["DAG", "Schedule", "Next run", "Runs", "State"].map((c) => h("th", {scope: "col"}, c)))),
        tbody)));
  return refresh;
}
