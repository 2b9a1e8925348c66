// Run and task states: a colour class AND a letter and a symbol, so that
// colour is never the only signal (the letters follow Airflow's legend).
import {h} from "./dom.js";

const STATES = {
  success:           {letter: "S", icon: "✓", label: "success"},
  failed:            {letter: "F", icon: "✗", label: "failed"},
  running:           {letter: "R", icon: "▶", label: "running"},
  queued:            {letter: "Q", icon: "…", label: "queued"},
  scheduled:         {letter: "D", icon: "◷", label: "scheduled"},
  pending:           {letter: "P", icon: "○", label: "pending"},
  up_for_retry:      {letter: "T", icon: "↻", label: "up for retry"},
  up_for_reschedule: {letter: "W", icon: "‖", label: "up for reschedule"},
  upstream_failed:   {letter: "U", icon: "⚠", label: "upstream failed"},
  skipped:           {letter: "K", icon: "»", label: "skipped"},
  cancelled:         {letter: "C", icon: "⊘", label: "cancelled"},
  removed:           {letter: "X", icon: "−", label: "removed"},
};

export function stateInfo(state) {
  return STATES[state] || {letter: "?", icon: "?", label: state || "none"};
}

// A small coloured badge with the state's symbol and letter; `title` adds
// detail on hover and to assistive technology.
export function stateBadge(state, title, tag = "span", props = {}) {
  const s = stateInfo(state);
  const text = title ? `${title}: ${s.label}` : s.label;
  return h(tag, {class: `state state-${state || "none"}`, title: text, "aria-label": text,
                 dataset: {state: state || "none"}, ...props},
           h("span", {"aria-hidden": "true"}, `${s.icon}${s.letter}`));
}

export function legend() {
  return h("ul", {class: "legend", "aria-label": "state legend"},
           Object.keys(STATES).map((k) => h("li", {}, stateBadge(k), " ", STATES[k].label)));
}
