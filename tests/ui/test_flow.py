#!/usr/bin/env python3
"""A user's round trip in the web UI, with a real scheduler and worker
behind it (tests/cli/t0141-ui-flow.sh), in headless Chromium.

usage: test_flow.py URL SHOTS_DIR FIRST_TAP_NUMBER COUNT_FILE

An operator signs in, opens the DAG list and the DAG `flow`, triggers it
from its form with a param, watches its grid cells turn green (and one
red) without reloading, opens the failed task's log and reads its last
line, clears the task and watches it run again and succeed. A viewer
then sees the same pages without any action.
"""
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from uilib import (OPERATOR, URL, VIEWER, console_errors, main, ok, shot, sign_in, viewport,
                   wait)

# A real scheduler and worker: minutes are generous, seconds are usual.
SLOW = 90


def cell_state(driver, run, task):
    cells = driver.find_elements(
        By.CSS_SELECTOR, '#grid button.cell[data-run="%s"][data-task="%s"]' % (run, task))
    return cells[0].get_attribute("data-state") if cells else None


def fetch_text(driver, path):
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'})"
        ".then(r => r.text()).then(done, e => done('error: ' + e));", path)


def run(driver):
    viewport(driver, 1280, 720, False)
    driver.get(URL + "/")
    sign_in(driver, *OPERATOR)
    link = wait(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, 'a[href="#/dags/flow"]')))
    ok(link is not None, "the operator signs in and the DAG list links to flow")
    link.click()

    # The trigger form, generated from the DAG's params.
    field = wait(driver, EC.element_to_be_clickable((By.ID, "param-greeting")))
    ok(field is not None and field.get_attribute("value") == "hello",
       "flow's page has a trigger form with its param, at its default",
       field.get_attribute("value") if field else "no field")
    driver.execute_script("window.sluiceNoReload = true;")
    field.clear()
    field.send_keys("bonjour")
    driver.find_element(By.ID, "trigger-run-id").send_keys("ui1")
    driver.find_element(By.ID, "trigger-submit").click()
    note = wait(driver, lambda d: "created" in d.find_element(By.ID, "trigger-note").text and
                d.find_element(By.ID, "trigger-note"))
    ok(note is not None and note.text == "Run ui1 created.", "the form triggers run ui1",
       driver.find_element(By.ID, "trigger-note").text)

    # The scheduler and the worker run it; the page follows by itself.
    green = wait(driver, lambda d: cell_state(d, "ui1", "say") == "success", SLOW)
    ok(green, "say's cell turns green (success) without a reload",
       cell_state(driver, "ui1", "say"))
    red = wait(driver, lambda d: cell_state(d, "ui1", "check") == "failed", SLOW)
    ok(red, "check's cell turns red (failed)", cell_state(driver, "ui1", "check"))
    ok(driver.execute_script("return window.sluiceNoReload === true;"),
       "... all on the page as it was loaded")
    # Read in one script: live updates redraw the grid, and an element found
    # in one call may be gone by the next.
    seen = driver.execute_script(
        "const c = document.querySelector("
        "'#grid button.cell[data-run=\"ui1\"][data-task=\"check\"]');"
        "return c ? [c.innerText, c.getAttribute('aria-label') || ''] : null;")
    ok(seen is not None and "F" in seen[0] and "failed" in seen[1],
       "the failed cell says so with a letter and a label, not colour alone", seen)
    node = driver.execute_script(
        "return document.querySelector('#dag-graph svg g[id=\"task-say\"]')?.dataset.state;")
    ok(node == "success", "the graph's node say took the newest run's state", node)
    shot(driver, "flow-dag-1280")
    say_log = fetch_text(driver, "/api/v1/dags/flow/runs/ui1/tasks/say/tries/1/log")
    ok("bonjour from sluice" in say_log, "say ran with the param typed into the form", say_log)

    # The failed task's page, from the cell's details.
    wait(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, '#grid button.cell[data-run="ui1"][data-task="check"]').click() or True)
    link = wait(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "#cell-details a.task-link")))
    ok(link is not None, "the failed cell's details link to its log")
    link.click()
    log = wait(driver, lambda d: d.find_element(By.ID, "log").text.strip() or None)
    lines = (log or "").splitlines()
    ok(lines and lines[-1] == "last line: try 1 fails",
       "the failed task's log ends with its last line", log)
    shot(driver, "flow-task-failed-1280")

    # Clear: the task runs again, and its page follows the new try.
    clear = wait(driver, EC.element_to_be_clickable((By.ID, "clear-task")))
    ok(clear is not None, "the operator has Clear")
    clear.click()
    again = wait(driver, lambda d: "passes on try 2" in d.find_element(By.ID, "log").text, SLOW)
    ok(again, "after Clear it runs again: try 2's log shows by itself",
       driver.find_element(By.ID, "log").text)
    tries = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "nav.tries button.try")]
    ok(len(tries) == 2 and tries[1].startswith("Try 2"), "the try selector has both tries", tries)
    shot(driver, "flow-task-cleared-1280")
    driver.find_element(By.CSS_SELECTOR, 'h1 a[href="#/dags/flow"]').click()
    done = wait(driver, lambda d: cell_state(d, "ui1", "check") == "success", SLOW)
    ok(done, "back on the grid, check is green now", cell_state(driver, "ui1", "check"))
    run_done = wait(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, "#grid th.run-head .state").get_attribute("data-state") == "success", SLOW)
    ok(run_done, "and the run ui1 succeeded")
    # A 2 MiB log: its last MiB is shown, with a note for the rest.
    driver.get(URL + "/#/dags/flow/runs/ui1/tasks/big")
    tail = wait(driver, lambda d: d.find_element(By.ID, "log").text.endswith(
        "the end of a big log") or None)
    ok(tail, "a big log's page shows its last line")
    shown = driver.execute_script("return document.getElementById('log').textContent.length")
    ok(1000000 < shown <= 1048576, "and only its last MiB (%d characters)" % shown)
    note = driver.find_element(By.ID, "log-note").text
    ok("The first 1048598 bytes are not shown" in note, "the page says how much is not shown", note)
    errors = console_errors(driver)
    ok(not errors, "no errors in the console", errors)
    driver.find_element(By.ID, "logout").click()

    # A viewer: the same pages, no action.
    sign_in(driver, *VIEWER)
    ok(wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-dag="flow"]'))),
       "the viewer sees the DAG list")
    ok(not driver.find_elements(By.CSS_SELECTOR, "#dags button.toggle"),
       "with no paused toggle")
    driver.get(URL + "/#/dags/flow")
    ok(wait(driver, lambda d: cell_state(d, "ui1", "check") == "success"),
       "the viewer sees flow's grid")
    ok(not driver.find_elements(By.ID, "trigger-form"), "with no trigger form")
    driver.get(URL + "/#/dags/flow/runs/ui1/tasks/check")
    ok(wait(driver, lambda d: "passes on try 2" in d.find_element(By.ID, "log").text),
       "the viewer reads the task's log")
    ok(not driver.find_elements(By.ID, "clear-task") and
       not driver.find_elements(By.CSS_SELECTOR, "main button:not(.try)"),
       "with no Clear (no action button at all)",
       [b.text for b in driver.find_elements(By.CSS_SELECTOR, "main button")])
    shot(driver, "flow-task-viewer-1280")


if __name__ == "__main__":
    main(run)
