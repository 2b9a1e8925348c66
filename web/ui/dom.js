// Building DOM nodes without innerHTML: every name and message the API
// returns is inserted as text, never parsed as markup.

// h("a", {href: "#/x", class: "c", onclick: fn}, "text", child, ...)
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// An ISO date as the browser's local time, short; "—" for none.
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {dateStyle: "medium", timeStyle: "short"});
}

// A <time> showing `iso` in local time, the ISO value in its title; "—" for none.
export function timeEl(iso) {
  return iso ? h("time", {datetime: iso, title: iso}, when(iso)) : "—";
}

// Seconds from ISO instant `a` to `b`; null unless both are there.
export function seconds(a, b) {
  if (!a || !b) return null;
  return (new Date(b) - new Date(a)) / 1000;
}

// A duration in seconds as "1h 02m", "3m 04s" or "5s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds), m = Math.floor(s / 60), hr = Math.floor(m / 60);
  if (hr) return `${hr}h ${String(m % 60).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}
