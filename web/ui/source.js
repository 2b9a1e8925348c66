// A DAG's file text at one of its versions, or what changed between two
// (a line diff: each line marked "+", "-" or " ", not by colour alone).
// No other orchestrator shows what changed between two runs this way.
import {api} from "./api.js";
import {h, when} from "./dom.js";

const enc = encodeURIComponent;

async function text(dag, commit) {
  const r = await fetch(`/api/v1/dags/${enc(dag)}/versions/${enc(commit)}/source`,
                        {credentials: "same-origin", cache: "no-store"});
  if (!r.ok) {
    let detail = `${r.status} ${r.statusText}`;
    try { detail = (await r.json()).detail || detail; } catch { /* not a problem document */ }
    throw new Error(detail);
  }
  return r.text();
}

// The longest common subsequence of lines, walked into a diff. Quadratic:
// DAG files are short; past a bound the two texts are only said to differ.
const DIFF_CELLS = 4_000_000;

export function lineDiff(a, b) {
  const x = a.split("\n"), y = b.split("\n");
  if (x.length * y.length > DIFF_CELLS) return null;
  const n = x.length, m = y.length;
  const lcs = Array.from({length: n + 1}, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push([" ", x[i]]); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(["-", x[i++]]);
    else out.push(["+", y[j++]]);
  }
  return out;
}

function diffView(lines) {
  const kind = {"+": "add", "-": "del", " ": "same"};
  return h("pre", {class: "source diff", id: "source-text", tabindex: "0"},
    lines.map(([mark, line]) => h("span", {class: `line ${kind[mark]}`}, `${mark} ${line}\n`)));
}

// The card: a version to show, and one to compare it with. `pick(commit)`
// shows the version a commit pins (a run's commit: what that run ran).
export function sourceCard(dag, versions) {
  const usable = (versions || []).filter((v) => v.source);
  const label = (v) => `${v.commit.slice(0, 10)} · ${when(v.loaded_at)}${v.latest ? " (latest)" : ""}`;
  const show = h("select", {id: "source-version"},
    usable.map((v) => h("option", {value: v.commit}, label(v))));
  const base = h("select", {id: "source-base"}, h("option", {value: ""}, "nothing (the text)"),
    usable.map((v) => h("option", {value: v.commit}, label(v))));
  const body = h("div", {id: "source-body"});
  const note = h("p", {class: "muted", id: "source-note"});

  async function draw(commit) {
    body.replaceChildren(h("p", {class: "muted"}, "Loading…"));
    try {
      const now = await text(dag, commit);
      if (!base.value) {
        note.textContent = `The DAG file at ${commit.slice(0, 10)}.`;
        body.replaceChildren(h("pre", {class: "source", id: "source-text", tabindex: "0"}, now));
        return;
      }
      const lines = lineDiff(await text(dag, base.value), now);
      note.textContent = `What changed from ${base.value.slice(0, 10)} to ${commit.slice(0, 10)}.`;
      body.replaceChildren(lines ? diffView(lines)
                                 : h("p", {}, "The two files are too long to compare here."));
    } catch (e) {
      body.replaceChildren(h("p", {class: "error", role: "alert"}, e.message));
    }
  }

  show.addEventListener("change", () => draw(show.value));
  base.addEventListener("change", () => draw(show.value));
  const card = h("section", {class: "card", id: "source"},
    h("h2", {}, "DAG file"),
    usable.length ? [h("div", {class: "field"}, h("label", {for: "source-version"}, "Version"), show),
                     h("div", {class: "field"}, h("label", {for: "source-base"}, "Compare with"), base),
                     note, body]
                  : h("p", {class: "muted"}, "No stored text for this DAG's versions yet."));
  if (usable.length) draw(show.value);
  card.pick = (commit) => {
    base.value = "";
    note.textContent = "";
    draw(commit);
    card.scrollIntoView({block: "nearest"});
  };
  return card;
}

export async function dagVersions(dag) {
  return (await api("GET", `/api/v1/dags/${enc(dag)}`)).versions;
}
