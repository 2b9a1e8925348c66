// The load errors (#/errors): every DAG file that does not load at the
// current commit, each error at its file:line:col with its message (GET
// /api/v1/load-errors, `sluice dags errors`). The DAG list's banner links
// here.
import {api} from "./api.js";
import {h} from "./dom.js";

const enc = encodeURIComponent;

export async function renderErrors(main) {
  const box = h("div", {});
  async function reload() {
    const errors = await api("GET", "/api/v1/load-errors");
    if (!errors.length)
      return box.replaceChildren(h("p", {class: "muted", id: "errors-empty"},
                                   "Every DAG file loads at the current commit."));
    box.replaceChildren(h("p", {}, `${errors.length} error${errors.length > 1 ? "s" : ""} ` +
                                  "at the current commit; the last version that loaded keeps running."),
      h("div", {class: "table-wrap"}, h("table", {class: "load-errors", id: "errors"},
        h("thead", {}, h("tr", {}, ["Where", "DAG", "Message"]
          .map((c) => h("th", {scope: "col"}, c)))),
        h("tbody", {}, errors.map((e) => h("tr", {},
          h("td", {}, h("code", {class: "where"}, `${e.file}:${e.line}:${e.column}`)),
          h("td", {}, e.dag ? h("a", {href: `#/dags/${enc(e.dag)}`}, e.dag) : "—"),
          h("td", {}, e.message)))))));
  }
  await reload();
  main.replaceChildren(h("h1", {}, "Load errors"), box);
  return reload;
}
