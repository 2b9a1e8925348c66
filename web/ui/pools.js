// The pools (#/pools): each pool's slots, how many are used and how many
// task instances wait for one. An admin may set a pool (PUT
// /api/v1/pools/{pool}) and delete one; others see the table only.
import {api, atLeast} from "./api.js";
import {h} from "./dom.js";

const enc = encodeURIComponent;

// A refusal, in the API's words, where a screen reader announces it.
function alertBox() {
  const box = h("p", {class: "error", role: "alert", id: "pool-error", hidden: true});
  box.show = (e) => { box.textContent = e.message; box.hidden = false; };
  box.clear = () => { box.hidden = true; box.textContent = ""; };
  return box;
}

function setForm(problem, reload) {
  const name = h("input", {type: "text", id: "pool-name", name: "pool", required: true,
                           autocomplete: "off", autocapitalize: "none", spellcheck: "false"});
  const slots = h("input", {type: "number", id: "pool-slots", name: "slots", required: true,
                            min: 0, step: 1, value: 1});
  const description = h("input", {type: "text", id: "pool-description", name: "description"});
  const form = h("form", {class: "card pool-form", id: "pool-form", "aria-label": "set a pool"},
    h("h2", {}, "Set a pool"),
    h("p", {class: "muted"}, "A new name creates the pool; an existing one changes its slots."),
    h("div", {class: "field"}, h("label", {for: "pool-name"}, "Name"), name),
    h("div", {class: "field"}, h("label", {for: "pool-slots"}, "Slots"), slots),
    h("div", {class: "field"}, h("label", {for: "pool-description"}, "Description"), description),
    h("button", {type: "submit", id: "pool-submit"}, "Save"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    problem.clear();
    const body = {slots: Number(slots.value)};
    if (description.value.trim()) body.description = description.value.trim();
    try {
      await api("PUT", `/api/v1/pools/${enc(name.value.trim())}`, body);
      name.value = "";
      description.value = "";
      await reload();
    } catch (e) {
      problem.show(e);
    }
  });
  return form;
}

function deleteButton(pool, problem, reload) {
  return h("button", {
    type: "button", class: "pool-delete", dataset: {pool}, "aria-label": `delete pool ${pool}`,
    onclick: async () => {
      if (!confirm(`Delete pool ${pool}? A task that waits for it will fail.`))
        return;
      problem.clear();
      try {
        await api("DELETE", `/api/v1/pools/${enc(pool)}`);
        await reload();
      } catch (e) {
        problem.show(e);
      }
    },
  }, "Delete");
}

// Draws the page; returns a function that reads the pools again.
export async function renderPools(main, session) {
  const admin = atLeast(session, "admin");
  const problem = alertBox();
  const body = h("div", {});

  async function reload() {
    const pools = await api("GET", "/api/v1/pools");
    if (!pools.length) return body.replaceChildren(h("p", {class: "muted"}, "No pools."));
    body.replaceChildren(h("div", {class: "table-wrap"},
      h("table", {class: "pools", id: "pools"},
        h("thead", {}, h("tr", {},
          ["Pool", "Slots", "Used", "Queued", "Open", "Description", ...(admin ? [""] : [])]
            .map((c) => h("th", {scope: "col"}, c)))),
        h("tbody", {}, pools.map((p) => h("tr", {dataset: {pool: p.pool}},
          h("th", {scope: "row"}, p.pool,
            p.defined ? null : h("span", {class: "muted"}, " (not defined, named by a task)")),
          h("td", {}, String(p.slots)), h("td", {}, String(p.used)),
          h("td", {}, String(p.queued)), h("td", {}, String(p.open)),
          h("td", {}, p.description || h("span", {class: "muted"}, "—")),
          admin ? h("td", {}, p.defined ? deleteButton(p.pool, problem, reload) : null)
                : null))))));
  }

  await reload();
  main.replaceChildren(h("h1", {}, "Pools"), problem, body,
                       admin ? setForm(problem, reload) : null);
  return reload;
}
