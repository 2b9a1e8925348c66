// Live updates: the page shown listens to sluice-web's Server-Sent Events
// (GET /api/v1/events; the browser sends the session cookie, same origin)
// and reads what it shows again when a run or task changes, or when
// events may have been lost (resync, or a reconnection).
let source = null;

export function stopLive() {
  if (source) source.close();
  source = null;
}

// Listens to `path` and calls `refresh` (at most once per 300 ms burst),
// and `onLog` with each `log` event's data (new bytes of a try's log).
export function live(path, refresh, onLog) {
  stopLive();
  if (typeof EventSource === "undefined") return;
  const es = new EventSource(path);
  let timer = null, connected = false;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (source === es) refresh(); }, 300);
  };
  es.addEventListener("run", soon);
  es.addEventListener("task", soon);
  es.addEventListener("resync", soon);
  if (onLog) es.addEventListener("log", (e) => { if (source === es) onLog(JSON.parse(e.data)); });
  // Every (re)connection says hello: what happened while away is unknown.
  es.addEventListener("hello", () => { if (connected) soon(); connected = true; });
  source = es;
}
