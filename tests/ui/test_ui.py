#!/usr/bin/env python3
"""The web UI in headless Chromium, driven by WebDriver (tests/cli/t0134-ui.sh).

usage: test_ui.py URL SHOTS_DIR FIRST_TAP_NUMBER COUNT_FILE

Signs in as an operator and as a viewer, looks at the DAG list as a user
would (search, the runs strip, the load errors banner, the paused state),
at 1280x720 and at a phone's 390x844, signs out, and saves a screenshot of
each page into SHOTS_DIR. Prints TAP lines numbered from FIRST_TAP_NUMBER
and writes "RUN FAILED" to COUNT_FILE.
"""
import json
import os
import subprocess
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from uilib import (OPERATOR, URL, VIEWER, console_errors, main, ok, session_status, shot,
                   sign_in, sql, viewport, wait)


def visible_dags(driver):
    return [r.get_attribute("data-dag")
            for r in driver.find_elements(By.CSS_SELECTOR, "#dags tbody tr")]


def run(driver):
    viewport(driver, 1280, 720, False)
    driver.get(URL + "/")
    ok(sign_in(driver, "olga", "not the password"), "the sign-in page shows a form")
    shot(driver, "login-1280")
    err = wait(driver, EC.visibility_of_element_located((By.ID, "login-error")))
    ok(err is not None and "Wrong user name or password" in err.text,
       "a wrong password shows an error", err.text if err else "no error shown")
    ok(driver.find_elements(By.ID, "dags") == [], "... and no DAG list")

    sign_in(driver, *OPERATOR)
    table = wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#dags tbody tr")))
    ok(table is not None, "the operator signs in and sees the DAG list")
    ok(driver.current_url.endswith("#/dags"), "at #/dags", driver.current_url)
    ok(sorted(visible_dags(driver)) == ["daily_report", "db_backup", "hello", "nightly_etl"],
       "the seeded DAGs are listed", visible_dags(driver))
    ok(driver.find_element(By.ID, "who-user").text == "olga" and
       driver.find_element(By.ID, "who-role").text == "operator",
       "the header names the user and the role")
    banner = driver.find_elements(By.ID, "load-errors")
    ok(banner and "did not load at the latest commit: daily_report." in banner[0].text,
       "the load errors banner names the DAG that does not load",
       banner[0].text if banner else "no banner")
    cells = driver.find_elements(By.CSS_SELECTOR, 'tr[data-dag="hello"] .strip .state')
    ok(len(cells) == 2 and cells[0].get_attribute("data-state") == "queued" and
       cells[-1].get_attribute("data-state") == "success" and
       "S" in cells[-1].text and "success" in cells[-1].get_attribute("aria-label"),
       "hello's runs strip: its runs oldest first, the newest a success cell with a letter "
       "and a label, not colour alone",
       [(c.get_attribute("data-state"), c.text) for c in cells])
    row = driver.find_element(By.CSS_SELECTOR, 'tr[data-dag="nightly_etl"]').text
    ok("0 2 * * *" in row, "the schedule is shown", row)
    nxt = driver.find_element(By.CSS_SELECTOR, 'tr[data-dag="db_backup"] td:nth-of-type(2)').text
    ok(nxt not in ("", "—"), "an active cron DAG shows its next run", nxt)

    # The paused toggle: only where the daemon has PATCH /api/v1/dags/{dag}.
    doc = driver.execute_async_script(
        "const done = arguments[0];"
        "fetch('/api/v1/openapi.json').then(r => r.json()).then(done);")
    can_patch = "patch" in doc["paths"].get("/api/v1/dags/{dag}", {})
    toggles = driver.find_elements(By.CSS_SELECTOR, "button.toggle")
    paused = driver.find_element(By.CSS_SELECTOR, 'tr[data-dag="nightly_etl"]').text
    ok("paused" in paused, "nightly_etl is shown paused", paused)
    if can_patch:
        ok(len(toggles) == 4, "an operator has a paused toggle per DAG", len(toggles))
        t = driver.find_element(By.CSS_SELECTOR, 'button.toggle[data-dag="hello"]')
        t.click()
        flipped = wait(driver, lambda d: "paused" in d.find_element(
            By.CSS_SELECTOR, 'button.toggle[data-dag="hello"]').text)
        ok(flipped, "clicking hello's toggle pauses it")
        driver.find_element(By.CSS_SELECTOR, 'button.toggle[data-dag="hello"]').click()
        wait(driver, lambda d: "active" in d.find_element(
            By.CSS_SELECTOR, 'button.toggle[data-dag="hello"]').text)
    else:
        print("# PATCH /api/v1/dags/{dag} is not on this daemon: the toggle stays hidden")
        ok(toggles == [], "without PATCH /api/v1/dags/{dag} no toggle is offered")

    search = driver.find_element(By.ID, "dag-search")
    search.send_keys("nigh")
    ok(wait(driver, lambda d: visible_dags(d) == ["nightly_etl"]) is not None,
       "the search box filters the list", visible_dags(driver))
    ok("1 of 4" in driver.find_element(By.ID, "dag-count").text, "... and says how many")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    ok(wait(driver, lambda d: len(visible_dags(d)) == 4) is not None,
       "an empty search shows them all again", visible_dags(driver))
    names = driver.execute_script(
        "return [...document.querySelectorAll('#dag-tag option')].map((o) => o.textContent)")
    ok(names == ["All tags", "backup", "etl", "example", "ops", "orders", "reports"],
       "the tag filter offers every DAG's tags", names)
    tags = Select(driver.find_element(By.ID, "dag-tag"))
    tags.select_by_visible_text("reports")
    ok(wait(driver, lambda d: visible_dags(d) == ["daily_report"]) is not None,
       "choosing a tag shows its DAGs only", visible_dags(driver))
    tags.select_by_visible_text("All tags")
    ok(wait(driver, lambda d: len(visible_dags(d)) == 4) is not None, "and All tags all of them")

    # Live: a run triggered elsewhere (here by the CLI) shows in the strip
    # within seconds, by Server-Sent Events on the session's cookie, without
    # a reload and without losing what was typed in the search box.
    search.send_keys("db_")
    wait(driver, lambda d: visible_dags(d) == ["db_backup"])
    driver.execute_script("window.sluiceNotReloaded = true")
    subprocess.run([os.environ["SLUICE"], "trigger", "db_backup", "--run-id", "live1",
                    "--logical-date", "2026-03-03T00:00:00Z"], check=True,
                   stdout=subprocess.DEVNULL)
    cell = wait(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, 'tr[data-dag="db_backup"] .strip .state[data-state="queued"]'), 15)
    ok(cell, "a run triggered meanwhile appears in the strip by itself (live updates)")
    ok(driver.execute_script("return window.sluiceNotReloaded") is True and
       search.get_attribute("value") == "db_" and visible_dags(driver) == ["db_backup"],
       "... without a reload, the search kept")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    wait(driver, lambda d: len(visible_dags(d)) == 4)

    # Keyboard: everything that acts is a link, button or field, reached by Tab.
    driver.find_element(By.TAG_NAME, "body").click()
    reached = set()
    outline = None
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(25):
        body.send_keys(Keys.TAB)
        el = driver.switch_to.active_element
        reached.add((el.tag_name, el.get_attribute("id") or el.get_attribute("href") or ""))
        if el.tag_name == "a" and outline is None:
            outline = driver.execute_script(
                "return getComputedStyle(document.activeElement).outlineStyle")
        body = el
    tags = {t for t, _ in reached}
    # (body: Tab goes round through the browser's own controls)
    ok(tags <= {"a", "button", "input", "select", "body"} and ("input", "dag-search") in reached and
       ("button", "logout") in reached and
       any(href.endswith("#/dags/hello") for _, href in reached),
       "Tab reaches the search box, the links and Sign out, and nothing else", sorted(reached))
    ok(outline not in (None, "none", ""), "the focused element shows a visible outline", outline)

    shot(driver, "dags-1280")
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    ok(wide <= 1280, "at 1280x720 nothing overflows sideways", wide)
    viewport(driver, 390, 844, True)
    time.sleep(0.3)  # let the layout settle before the screenshot
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    ok(wide <= 390, "at 390 px wide nothing overflows sideways", wide)
    label = driver.execute_script(
        "const td = document.querySelector('#dags td');"
        "return getComputedStyle(td, '::before').content")
    ok("Schedule" in (label or ""), "on a phone each cell is labelled", label)
    shot(driver, "dags-390")
    viewport(driver, 1280, 720, False)

    driver.find_element(By.CSS_SELECTOR, 'a.dag-link[href="#/dags/hello"]').click()
    h1 = wait(driver, lambda d: "hello" in d.find_element(By.TAG_NAME, "h1").text and
              not d.find_elements(By.XPATH, "//*[contains(text(), 'Loading runs')]"))
    ok(h1 is not None and driver.current_url.endswith("#/dags/hello"),
       "a DAG's link opens #/dags/hello")
    state = wait(driver, lambda d: d.execute_script(
        "const g = document.querySelector('#dag-graph svg g[id=\"task-greet\"]');"
        "return g && g.dataset.state"))
    ok(state, "the DAG's graph is drawn in the page, its nodes in the newest run's states", state)
    dashed = driver.execute_script(
        "return [...document.querySelectorAll('#dag-graph svg g.node-state polygon')]"
        ".map((p) => getComputedStyle(p).strokeWidth)")
    ok(dashed and all(w in ("2px", "3px") for w in dashed),
       "each coloured node also has its state's border (not colour alone)", dashed)
    scripts = driver.execute_script(
        "return document.querySelectorAll('#dag-graph script, #dag-graph foreignObject').length")
    ok(scripts == 0, "nothing but shapes and text is kept of the SVG", scripts)
    shot(driver, "dag-1280")
    driver.back()
    ok(wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#dags tbody tr"))) is not None,
       "Back returns to the list")

    # The DAG's page: the grid of its runs by task (GET /api/v1/dags/{dag}/runs
    # and each run's document).
    driver.get(URL + "/#/dags/hello")
    grid = wait(driver, EC.presence_of_element_located((By.ID, "grid")))
    heads = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#grid .run-id")]
    ok(grid is not None and "h1" in heads, "hello's page draws the grid with run h1", heads)
    cells = driver.find_elements(By.CSS_SELECTOR, '#grid button.cell[title^="h1 "]')
    got = [(c.get_attribute("data-state"), c.text) for c in cells]
    ok(len(cells) == 3 and all(g == ("success", "✓S") for g in got),
       "a cell per task of h1, each with its state's letter", got)
    if cells:
        cells[0].send_keys(Keys.ENTER)
        panel = wait(driver, lambda d: "Duration" in d.find_element(By.ID, "cell-details").text)
        text = driver.find_element(By.ID, "cell-details").text
        ok(panel and "h1" in text and "greet" in text and "10s" in text,
           "Enter on a cell shows its details (run, task, duration)", text)
    shot(driver, "dag-grid-1280")

    # The DAG file: the latest version's text, a diff with the first, and
    # the text a run ran with (h1 pins the first version).
    src = wait(driver, lambda d: "good morning" in d.find_element(By.ID, "source-text").text)
    ok(src, "the DAG file card shows the latest version's text")
    Select(driver.find_element(By.ID, "source-base")).select_by_index(2)
    ok(bool(wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#source-text .line.add"), 10)),
       "comparing with the first version draws a diff")
    added = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#source-text .line.add")]
    removed = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#source-text .line.del")]
    ok(len(added) == 1 and added[0].startswith("+ ") and "good morning" in added[0] and
       len(removed) == 1 and removed[0].startswith("- ") and "hello, " in removed[0],
       "one line changed: marked + and - (not by colour alone)", [added, removed])
    shot(driver, "dag-diff-1280")
    cells = driver.find_elements(By.CSS_SELECTOR, '#grid button.cell[title^="h1 "]')
    cells[0].click()
    driver.find_element(By.ID, "run-source").click()
    ok(wait(driver, lambda d: 'echo "hello, ' in d.find_element(By.ID, "source-text").text and
            not d.find_elements(By.CSS_SELECTOR, "#source-text .line"), 10),
       "a run's DAG file is the version it ran with (h1: the first)")
    subprocess.run([os.environ["SLUICE"], "trigger", "hello", "--run-id", "live2",
                    "--logical-date", "2026-03-04T00:00:00Z"], check=True, stdout=subprocess.DEVNULL)
    run_ids = ("return [...document.querySelectorAll('#grid .run-id')]"
               ".map((e) => e.textContent)")
    ok(wait(driver, lambda d: "live2" in d.execute_script(run_ids), 15),
       "a run triggered meanwhile gets its column in the grid by itself")

    # The trigger form, generated from nightly_etl's params (region: eu,
    # batch_size: 500): a run with the values typed as its conf.
    driver.get(URL + "/#/dags/nightly_etl")
    form = wait(driver, EC.presence_of_element_located((By.ID, "trigger-form")))
    ok(form is not None, "an operator gets a trigger form on a DAG's page")
    region = driver.find_element(By.ID, "param-region")
    batch = driver.find_element(By.ID, "param-batch_size")
    ok(region.get_attribute("value") == "eu" and batch.get_attribute("type") == "number" and
       batch.get_attribute("value") == "500", "a field per param, typed, with its default",
       [region.get_attribute("value"), batch.get_attribute("type"), batch.get_attribute("value")])
    region.clear()
    region.send_keys("us")
    batch.clear()
    batch.send_keys("64")
    driver.find_element(By.ID, "trigger-run-id").send_keys("form1")
    driver.find_element(By.ID, "trigger-submit").click()
    ok(wait(driver, lambda d: "form1 created" in d.find_element(By.ID, "trigger-note").text, 15),
       "submitting it creates the run", driver.find_element(By.ID, "trigger-note").text)
    ok(wait(driver, lambda d: "form1" in d.execute_script(run_ids), 15),
       "which gets its column in the grid by itself")
    shown = subprocess.run([os.environ["SLUICE"], "runs", "show", "nightly_etl", "form1", "--json"],
                           check=True, capture_output=True, text=True).stdout
    conf = json.loads(shown).get("conf")
    ok(conf == {"region": "us", "batch_size": 64}, "with the values typed as its conf", conf)
    # The scheduler's writes, as it makes them: the cells turn green by themselves.
    sql(["UPDATE task_instances SET state = 'success', try_number = 1, started_at = now(), "
         "ended_at = now() WHERE run_pk = (SELECT run_pk FROM runs WHERE run_id = 'form1')"])
    green = ("return [...document.querySelectorAll('#grid button.cell[title^=\"form1 \"]')]"
             ".map((c) => c.dataset.state)")
    ok(wait(driver, lambda d: (lambda s: len(s) == 4 and set(s) == {"success"})(
        d.execute_script(green)), 15),
       "its cells turn green (success, with its letter) without a reload", driver.execute_script(green))
    driver.find_element(By.ID, "trigger-submit").click()
    ok(wait(driver, lambda d: "already" in d.find_element(By.ID, "trigger-note").text, 15),
       "a refusal (the run id is taken) shows sluice-web's sentence",
       driver.find_element(By.ID, "trigger-note").text)
    shot(driver, "trigger-1280")

    # A failed task's page: its log, followed live; Clear runs it again.
    driver.get(URL + "/#/dags/hello/runs/f1/tasks/greet")
    log = wait(driver, lambda d: "last line: boom" in d.find_element(By.ID, "log").text)
    ok(log, "a failed task's page shows its log's last line",
       driver.find_element(By.ID, "main").text[:300])
    ok(driver.find_element(By.ID, "exit-code").text == "3", "and its exit code")
    shot(driver, "task-1280")
    sql(["INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 1, "
         "convert_to(E'followed live\\n', 'UTF8') FROM attempts WHERE worker_id = 'w1'"])
    ok(wait(driver, lambda d: "followed live" in d.find_element(By.ID, "log").text, 15),
       "bytes stored meanwhile are appended by themselves (a log event, a Range request)")
    text = driver.find_element(By.ID, "log").text
    ok(text.count("last line: boom") == 1, "only the new bytes were added", text)
    driver.find_element(By.ID, "clear-task").click()
    ok(wait(driver, lambda d: "pending" in d.find_element(By.ID, "task-facts").text, 15),
       "Clear sets the task back to pending")
    # What the scheduler does next, as it writes it: try 2 starts and logs.
    # The page is drawn again between the task's change and its attempt's
    # row (no event tells of an attempt): the log's first bytes must still
    # bring try 2 in.
    sql(["UPDATE task_instances SET state = 'running', try_number = 2 WHERE task_id = 'greet' "
         "AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'f1')"])
    wait(driver, lambda d: "running" in d.find_element(By.ID, "task-facts").text, 15)
    sql(["INSERT INTO attempts (ti_id, try_number, worker_id, started_at) SELECT ti_id, 2, 'w2', "
         "now() FROM task_instances WHERE task_id = 'greet' AND run_pk = (SELECT run_pk FROM "
         "runs WHERE run_id = 'f1')",
         "INSERT INTO log_chunks (attempt_id, seq, data) SELECT attempt_id, 0, "
         "convert_to(E'second try\\n', 'UTF8') FROM attempts WHERE worker_id = 'w2'"])
    ok(wait(driver, lambda d: "second try" in d.find_element(By.ID, "log").text and
            "running" in d.find_element(By.ID, "task-facts").text, 15),
       "the page follows the task into its second try, running, and shows that try's log")
    tries = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".tries .try")]
    ok(len(tries) == 2, "the try selector offers both tries", tries)
    driver.find_element(By.CSS_SELECTOR, '.tries .try[data-try="1"]').click()
    ok(wait(driver, lambda d: "last line: boom" in d.find_element(By.ID, "log").text, 10),
       "choosing try 1 shows its log again")

    driver.get(URL + "/#/dags/nope")
    note = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "main .notice"))
    ok(note and "nope" in note[0].text, "an unknown DAG's page says so",
       note[0].text if note else driver.find_element(By.ID, "main").text)

    errors = console_errors(driver)
    ok(not errors, "no errors in the console (no CSP violation, no failed script)", errors)

    driver.find_element(By.ID, "logout").click()
    ok(wait(driver, EC.visibility_of_element_located((By.ID, "login-user"))) is not None,
       "Sign out returns to the sign-in form")
    ok(session_status(driver) == 401, "... and the session is gone on the server")

    sign_in(driver, *VIEWER)
    ok(wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#dags tbody tr"))) is not None,
       "a viewer signs in and sees the DAG list")
    ok(driver.find_element(By.ID, "who-role").text == "viewer", "the header says viewer")
    ok(driver.find_elements(By.CSS_SELECTOR, "button.toggle") == [] and
       len(driver.find_elements(By.CSS_SELECTOR, ".pill")) == 4,
       "a viewer sees the paused state but no toggle")
    shot(driver, "dags-viewer-1280")
    driver.get(URL + "/#/dags/hello/runs/f1/tasks/greet")
    ok(wait(driver, lambda d: "second try" in d.find_element(By.ID, "log").text) and
       driver.find_elements(By.ID, "clear-task") == [],
       "a viewer reads a task's log but gets no Clear button")
    driver.get(URL + "/#/dags/nightly_etl")
    wait(driver, EC.presence_of_element_located((By.ID, "grid")))
    ok(driver.find_elements(By.ID, "trigger-form") == [], "nor a trigger form")
    driver.find_element(By.ID, "logout").click()
    wait(driver, EC.visibility_of_element_located((By.ID, "login-user")))
    viewport(driver, 390, 844, True)
    time.sleep(0.3)
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    ok(wide <= 390, "the sign-in form fits 390 px too", wide)
    shot(driver, "login-390")


if __name__ == "__main__":
    main(run)
