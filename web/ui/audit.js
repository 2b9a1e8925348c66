// The audit log (#/audit, admins only: GET /api/v1/audit is theirs): who
// did what to what, when, through the CLI or the web, newest first; "More"
// reads a longer page. A change and its row are written together, so a
// row is a change that happened; a refused sign-in is a "login failed" row.
import {api, atLeast} from "./api.js";
import {h, when} from "./dom.js";

const PAGE = 50;

function outcome(action) {
  return / failed$/.test(action) ? h("span", {class: "pill lost"}, "✗ refused")
                                 : h("span", {class: "pill alive"}, "✓ done");
}

export async function renderAudit(main, session) {
  const title = h("h1", {}, "Audit log");
  if (!atLeast(session, "admin")) {
    main.replaceChildren(title, h("p", {class: "notice", role: "status", id: "audit-denied"},
      "The audit log is for admins only."));
    return null;
  }
  let limit = PAGE;
  const tbody = h("tbody", {});
  const more = h("button", {type: "button", id: "audit-more"}, "More");
  const box = h("div", {});

  async function reload() {
    const rows = await api("GET", `/api/v1/audit?limit=${limit}`);
    more.hidden = rows.length < limit; // the whole log is shown
    if (!rows.length) return box.replaceChildren(h("p", {class: "muted"}, "No audit rows."));
    tbody.replaceChildren(...rows.map((r) => h("tr", {dataset: {id: r.id}},
      h("td", {}, h("time", {datetime: r.at, title: r.at}, when(r.at))),
      h("td", {}, r.actor), h("td", {}, r.via), h("td", {}, r.action),
      h("td", {}, r.target ? h("code", {}, r.target) : "—"), h("td", {}, outcome(r.action)))));
    box.replaceChildren(h("div", {class: "table-wrap"}, h("table", {class: "audit", id: "audit"},
      h("thead", {}, h("tr", {}, ["When", "Who", "Via", "What", "Target", "Outcome"]
        .map((c) => h("th", {scope: "col"}, c)))), tbody)));
  }
  more.addEventListener("click", async () => {
    more.disabled = true;
    limit += PAGE;
    try { await reload(); } finally { more.disabled = false; }
  });
  await reload();
  main.replaceChildren(title, box, more);
  return reload;
}
