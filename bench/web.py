#!/usr/bin/env python3
"""bench/web's client (python3's standard library, and selenium for render).

    web.py api PORT TOKEN N WARMUP LABEL=PATH[=STATUS]...
        N requests of each PATH after WARMUP, on one keep-alive connection,
        round-robin (so that the machine's load falls on every path alike);
        one line per path: LABEL p50 p99 max (ms) and the body's bytes
    web.py sse PORT TOKEN CLIENTS REPEATS DAG RUN_ID
        CLIENTS streams of /api/v1/events; REPEATS times, the run's state is
        flipped in a transaction of psql (PG* from the environment) and timed
        from sending COMMIT to its return, to the first and to the last
        client reading the event; one line per repeat: commit first last (ms)
    web.py bytes PORT
        / and every file it loads (link, script, module imports, /ui/ names
        in the code, url() in CSS), transitively; lines: PATH raw gzip, then
        the Content-Encoding the server answered Accept-Encoding: gzip with
    web.py render URL USER PASSWORD DAG CELLS REPEATS
        headless Chromium: sign in, then REPEATS times a fresh load of
        #/dags/DAG, timed from navigation start until CELLS grid cells are in
        the document (dom) and the next frame after (paint); one line per
        load: dom paint api_requests api_end docs graph (ms, ms, count, then
        ms: the last answer of /api/v1 but the event stream; from the first
        run document asked to the last received, 0 when the page asks for none;
        the graph's request, 0 when it asks for none)
"""
import gzip
import http.client
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time


def percentile(values, p):
    v = sorted(values)
    i = min(len(v) - 1, max(0, int(len(v) * p / 100.0 + 0.999) - 1))
    return v[i]


def api(port, token, n, warmup, specs):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    routes = [s.split("=", 1) for s in specs]
    # A path may end with "=STATUS": the answer it must get (else 200).
    expect = {}
    for r in routes:
        path, _, status = r[1].partition("=")
        r[1] = path
        expect[r[0]] = int(status or 200)
    times = {label: [] for label, _ in routes}
    size = {}
    for i in range(warmup + n):
        for label, path in routes:
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t0) * 1000
            if r.status != expect[label]:
                sys.exit("%s: %d %s" % (path, r.status, body[:300]))
            size[label] = len(body)
            if i >= warmup:
                times[label].append(dt)
    for label, _ in routes:
        t = times[label]
        print("%s %.2f %.2f %.2f %d" % (label, percentile(t, 50), percentile(t, 99), max(t),
                                        size[label]))


def sse(port, token, clients, repeats, dag, run_id):
    sel = selectors.DefaultSelector()
    request = ("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
               "Authorization: Bearer %s\r\n\r\n" % token).encode()
    socks = []
    for i in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
    bufs = [b""] * clients
    deadline = time.monotonic() + 60

    def pump(want, until):
        """Read until every client has `want` events "run" (or hello)."""
        need = set(i for i in range(clients) if bufs[i].count(until) < want)
        arrived = {}
        while need or not psql_done[0]:
            if time.monotonic() > deadline_of[0]:
                sys.exit("sse: %d clients still wait for event %d" % (len(need), want))
            for key, _ in sel.select(timeout=1):
                if key.data == "psql":
                    got = os.read(key.fileobj.fileno(), 65536)
                    psql_out[0] += got
                    if b"committed" in psql_out[0]:
                        psql_done[0] = True
                        arrived["commit"] = time.perf_counter()
                    continue
                data = key.fileobj.recv(65536)
                if not data:
                    sys.exit("sse: client %d: the stream ended" % key.data)
                now = time.perf_counter()
                i = key.data
                bufs[i] += data
                if i in need and bufs[i].count(until) >= want:
                    need.discard(i)
                    arrived[i] = now
        return arrived

    psql_done = [True]
    psql_out = [b""]
    deadline_of = [deadline]
    pump(1, b"event: hello\n")
    psql = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    sel.register(psql.stdout, selectors.EVENT_READ, "psql")
    flip = ("UPDATE runs SET state = CASE state WHEN 'success' THEN 'failed' ELSE 'success' END "
            "WHERE dag_id = '%s' AND run_id = '%s';\n" % (dag, run_id))
    for r in range(1, repeats + 1):
        psql.stdin.write(b"BEGIN;\n" + flip.encode() + b"\\echo ready\n")
        psql_out[0] = b""
        while b"ready" not in psql_out[0]:
            got = os.read(psql.stdout.fileno(), 65536)
            if not got:
                sys.exit("sse: psql ended")
            psql_out[0] += got
        psql_out[0] = b""
        psql_done[0] = False
        deadline_of[0] = time.monotonic() + 30
        t0 = time.perf_counter()
        psql.stdin.write(b"COMMIT;\n\\echo committed\n")
        arrived = pump(r, b"event: run\n")
        ends = [arrived[i] for i in range(clients)]
        print("%.2f %.2f %.2f" % ((arrived["commit"] - t0) * 1000, (min(ends) - t0) * 1000,
                                  (max(ends) - t0) * 1000))
        sys.stdout.flush()
        time.sleep(0.2)
    psql.stdin.close()
    psql.wait()
    for s in socks:
        s.close()


def fetch(port, path, gz=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gz else {})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("%s: %d" % (path, r.status))
    return body, r.getheader("Content-Encoding") or "identity"


def first_load(port):
    seen, todo, total = set(), ["/"], []
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        body, _ = fetch(port, path)
        text = body.decode("utf-8", "replace")
        found = re.findall(r'(?:href|src)="(/ui/[^"?#]+)"', text)
        found += re.findall(r'"(/ui/[^"?#]+)"', text)
        if path.endswith(".js"):
            for rel in re.findall(r'(?:\bfrom\s*|\bimport\s*\(?\s*)"(\.{1,2}/[^"]+)"', text):
                found.append(os.path.normpath(os.path.join(os.path.dirname(path), rel)))
        if path.endswith(".css"):
            for u in re.findall(r'url\(\s*["\']?([^"\')]+)', text):
                if not u.startswith("data:"):
                    found.append(os.path.normpath(os.path.join(os.path.dirname(path), u)))
        todo += [f for f in found if f not in seen]
        total.append((path, len(body), len(gzip.compress(body, 6))))
    for path, raw, gz in total:
        print(path, raw, gz)
    print("encoding", fetch(port, "/ui/app.js", gz=True)[1])


def render(url, user, password, dag, cells, repeats):
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.add_argument("--headless=new")
    opts.add_argument("--no-sandbox")
    opts.add_argument("--disable-dev-shm-usage")
    opts.add_argument("--window-size=1280,720")
    profile = tempfile.mkdtemp(prefix="sluice-bench-chromium.")
    opts.add_argument("--user-data-dir=" + profile)
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "chromedriver")),
                              options=opts)
    # Runs before the page's own modules, in every document: the instant the
    # grid's last cell is in the document, then the next frame (the page
    # inserts the whole grid in one replaceChildren).
    probe = """(() => {
      const want = %d;
      const mo = new MutationObserver(() => {
        if (window.__gridDom !== undefined) return;
        if (document.querySelectorAll('#grid .cell').length < want) return;
        window.__gridDom = performance.now();
        mo.disconnect();
        requestAnimationFrame(() => setTimeout(() => { window.__gridPaint = performance.now(); }));
      });
      mo.observe(document, {childList: true, subtree: true});
    })();""" % cells
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(url + "/#/login")
        wait.until(EC.presence_of_element_located((By.ID, "login-user"))).send_keys(user)
        driver.find_element(By.ID, "login-password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "who-user")))
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": probe})
        for _ in range(repeats):
            driver.get("about:blank")
            driver.get(url + "/#/dags/" + dag)
            wait.until(lambda d: d.execute_script("return window.__gridPaint !== undefined"))
            print("%.1f %.1f %d %.1f %.1f %.1f" % tuple(driver.execute_script("""
                const a = performance.getEntriesByType('resource')
                  .filter((e) => e.name.includes('/api/v1/') && !e.name.includes('/events'));
                const grid = a.find((e) => /\\/grid\\?/.test(e.name));
                const graph = a.find((e) => e.name.endsWith('/graph'));
                return [window.__gridDom, window.__gridPaint, a.length,
                        Math.max(...a.map((e) => e.responseEnd)),
                        grid ? grid.responseEnd - grid.startTime : 0,
                        graph ? graph.responseEnd - graph.startTime : 0];""")))
            sys.stdout.flush()
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "api":
        api(int(args[0]), args[1], int(args[2]), int(args[3]), args[4:])
    elif cmd == "sse":
        sse(int(args[0]), args[1], int(args[2]), int(args[3]), args[4], args[5])
    elif cmd == "bytes":
        first_load(int(args[0]))
    elif cmd == "render":
        render(args[0], args[1], args[2], args[3], int(args[4]), int(args[5]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
