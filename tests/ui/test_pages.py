#!/usr/bin/env python3
"""The UI's other pages in headless Chromium, by WebDriver (tests/cli/t0140-ui-pages.sh).

usage: test_pages.py URL SHOTS_DIR FIRST_TAP_NUMBER COUNT_FILE

As an admin: a run's page and its Gantt (three bars, their letters, links
to the task pages, a running bar that grows, a state change shown live),
the pools (set through the form, a refusal shown, delete), workers and
queues, the audit log and its "More", the load errors reached from the DAG
list's banner. As a viewer: no pool form, no Audit in the navigation, and
#/audit saying it is for admins. Each page at 1280x720 and at 390x844,
with a screenshot in SHOTS_DIR. Prints TAP lines numbered from
FIRST_TAP_NUMBER and writes "RUN FAILED" to COUNT_FILE.
"""
import os
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from uilib import SHOTS, URL, console_errors, main, ok, sign_in, sql, viewport, wait

ADMIN = ("ada", "a long enough password")
VIEWER = ("vera", "a long enough password")


def text(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def both_sizes(driver, name):
    """Screenshots at 1280x720 and 390x844, and no sideways scroll at either."""
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    ok(wide <= 1280, "%s: nothing overflows sideways at 1280x720" % name, wide)
    driver.save_screenshot(os.path.join(SHOTS, name + "-1280.png"))
    viewport(driver, 390, 844, True)
    time.sleep(0.3)  # let the layout settle before measuring
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    ok(wide <= 390, "%s: nothing overflows sideways at 390 px" % name, wide)
    driver.save_screenshot(os.path.join(SHOTS, name + "-390.png"))
    viewport(driver, 1280, 720, False)
    time.sleep(0.3)


# The Gantt is redrawn each second while a task runs: read it in one script.
def bars(driver):
    return [tuple(b) for b in driver.execute_script(
        "return [...document.querySelectorAll('#gantt .gantt-bar')]"
        ".map((b) => [b.dataset.task, b.dataset.state, b.textContent])")]


def bar_title(driver, task):
    return driver.execute_script(
        "const b = document.querySelector(`#gantt .gantt-bar[data-task=\"${arguments[0]}\"]`);"
        "return b && b.title", task)


def run_page(driver):
    # Reached from the DAG page's grid: the run's column header.
    driver.get(URL + "/#/dags/hello")
    head = wait(driver, EC.element_to_be_clickable(
        (By.CSS_SELECTOR, '#grid a.run-id[href="#/dags/hello/runs/g1"]')))
    ok(head is not None, "the DAG page's grid links each run's column to its page")
    head.click()
    ok(wait(driver, lambda d: len(bars(d)) == 3), "the run's page draws a Gantt bar per task",
       bars(driver))
    ok(bars(driver) == [("greet", "success", "✓S"), ("count", "failed", "✗F"),
                        ("done", "running", "▶R")],
       "in the run's order, each bar in its state with its letter (not colour alone)",
       bars(driver))
    hrefs = driver.execute_script(
        "return [...document.querySelectorAll('#gantt .gantt-label')]"
        ".map((a) => a.getAttribute('href'))")
    ok(hrefs == ["#/dags/hello/runs/g1/tasks/" + t for t in ("greet", "count", "done")],
       "each row's label links to its task's page", hrefs)
    title = bar_title(driver, "count")
    ok("failed" in title and "try 2" in title and "20s" in title,
       "a bar's title gives its state, try and duration", title)
    facts = text(driver, "#run-facts")
    ok("running" in facts and "manual" in facts and "0000000000" in facts and
       "Logical date" in facts, "the run's facts: state, type, logical date, commit", facts)
    iso = driver.find_element(By.CSS_SELECTOR, "#run-facts time").get_attribute("title")
    ok(iso.startswith("2026-03-02T00:00:00"), "a time shows its ISO value on hover", iso)
    first = bar_title(driver, "done")
    ok(wait(driver, lambda d: bar_title(d, "done") != first, 10),
       "the running task's bar grows with the time, without a reload", first)

    # Keyboard: Tab from a row's label reaches its bar, whose focus is visible.
    # (the redraw each second keeps the focus on the same bar)
    driver.execute_script(
        "document.querySelector('.gantt-label[href$=\"/tasks/greet\"]').focus()")
    driver.switch_to.active_element.send_keys(Keys.TAB)
    before = bar_title(driver, "done")
    wait(driver, lambda d: bar_title(d, "done") != before, 10)  # a redraw
    focus = driver.execute_script(
        "const e = document.activeElement;"
        "return [e.dataset.task, getComputedStyle(e).outlineStyle]")
    ok(focus[0] == "greet" and focus[1] not in ("none", ""),
       "Tab reaches a bar, with a visible focus ring, kept across redraws", focus)

    driver.execute_script("window.sluiceNotReloaded = true")
    sql(["UPDATE task_instances SET state = 'success', ended_at = now() WHERE task_id = 'done' "
         "AND run_pk = (SELECT run_pk FROM runs WHERE run_id = 'g1')"])
    ok(wait(driver, lambda d: ("done", "success", "✓S") in bars(d), 15) and
       driver.execute_script("return window.sluiceNotReloaded") is True,
       "a task that ends meanwhile turns its bar green by itself (live)", bars(driver))
    both_sizes(driver, "run")

    driver.find_element(By.CSS_SELECTOR, '.gantt-label[href$="/tasks/count"]').click()
    crumb = wait(driver, EC.element_to_be_clickable(
        (By.CSS_SELECTOR, 'h1 a[href="#/dags/hello/runs/g1"]')))
    ok(crumb is not None and driver.current_url.endswith("#/dags/hello/runs/g1/tasks/count"),
       "a label opens the task's page, whose breadcrumb links back to the run")
    crumb.click()
    ok(wait(driver, lambda d: len(bars(d)) == 3), "... which goes back to the run's page")
    driver.get(URL + "/#/dags/hello/runs/nope")
    ok(wait(driver, lambda d: "nope" in text(d, "main .notice")),
       "an unknown run's page says so", text(driver, "main"))


def pools_page(driver):
    driver.find_element(By.ID, "nav-pools").click()
    ok(wait(driver, lambda d: "No pools." in text(d, "main")), "#/pools: no pools yet, it says so",
       text(driver, "main"))
    ok(bool(driver.find_elements(By.ID, "pool-form")), "an admin gets the form to set a pool")
    driver.find_element(By.ID, "pool-name").send_keys("bad name")
    driver.find_element(By.ID, "pool-submit").click()
    alert = wait(driver, EC.visibility_of_element_located((By.ID, "pool-error")))
    ok(alert is not None and alert.get_attribute("role") == "alert" and
       "'bad name' is not a valid pool name" in alert.text,
       "a refused name shows the API's sentence in an alert", alert.text if alert else "")
    name = driver.find_element(By.ID, "pool-name")
    name.clear()
    name.send_keys("gpu")
    slots = driver.find_element(By.ID, "pool-slots")
    slots.clear()
    slots.send_keys("3")
    # Markup in a description is text: the page builds no element from it.
    driver.find_element(By.ID, "pool-description").send_keys("<b>the GPU boxes</b>")
    driver.find_element(By.ID, "pool-submit").click()
    row = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-pool="gpu"]'))
    cells = [c.text for c in row[0].find_elements(By.CSS_SELECTOR, "th, td")] if row else []
    ok(cells[:6] == ["gpu", "3", "0", "0", "3", "<b>the GPU boxes</b>"],
       "the pool set through the form is in the table: slots, used, queued, open, description",
       cells)
    ok(not driver.find_elements(By.CSS_SELECTOR, "#pools b"), "its description's markup stays text")
    ok(driver.find_element(By.ID, "pool-error").get_attribute("hidden") is not None,
       "the earlier refusal is gone")
    driver.find_element(By.ID, "pool-name").send_keys("etl")
    slots.clear()
    slots.send_keys("8")
    driver.find_element(By.ID, "pool-description").send_keys("extract, transform, load")
    driver.find_element(By.ID, "pool-submit").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-pool="etl"]'))
    driver.find_element(By.CSS_SELECTOR, 'button.pool-delete[data-pool="gpu"]').click()
    confirm = wait(driver, EC.alert_is_present(), 5)
    ok(confirm is not None and "Delete pool gpu?" in confirm.text, "Delete asks first")
    confirm.accept()
    ok(wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-pool="gpu"]')),
       "and, confirmed, deletes the pool")
    both_sizes(driver, "pools")


def workers_page(driver):
    # w-alpha beats, as a worker does every few seconds; w-old has been
    # silent for an hour.
    sql(["UPDATE workers SET last_heartbeat_at = now() WHERE worker_id = 'w-alpha'"])
    driver.find_element(By.ID, "nav-workers").click()
    ok(wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-worker="w-alpha"]')),
       "#/workers lists the workers", text(driver, "main"))
    alpha = text(driver, 'tr[data-worker="w-alpha"]')
    old = text(driver, 'tr[data-worker="w-old"]')
    ok("host-a" in alpha and "default" in alpha and "gpu" in alpha and "0 / 4" in alpha and
       "✓ alive" in alpha, "a live worker: host, queues, slots used, alive", alpha)
    ok("✗ lost" in old and "1h 00m ago" in old,
       "a worker silent for an hour: lost, its last heartbeat's age", old)
    q = text(driver, 'tr[data-queue="default"]')
    ok(q.startswith("default") and "by a live worker" in q, "the queues and their depth", q)
    ok(text(driver, "#queues").count("\n") >= 2, "one row per queue", text(driver, "#queues"))
    ok("2 active, 0 draining (1 of them lost)" in text(driver, "#status-facts"),
       "the summary counts the workers",
       text(driver, "#status-facts"))
    both_sizes(driver, "workers")


def audit_page(driver):
    driver.find_element(By.ID, "nav-audit").click()
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#audit tbody tr"))
    ok(rows and len(rows) == 50, "#/audit: the newest 50 rows", len(rows or []))
    first = [r.text for r in rows[:4]]
    ok(any("ada" in r and "pools delete" in r and "gpu" in r for r in first) and
       any("ada" in r and "pools set" in r and "gpu" in r for r in first),
       "the admin's pool actions are there, with the user's name", first)
    ok("✓ done" in first[0] and "web" in first[0], "each with its outcome and how it came", first[0])
    driver.find_element(By.ID, "audit-more").click()
    ok(wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#audit tbody tr")) > 60),
       "More shows the older rows")
    ok(wait(driver, lambda d: not d.find_element(By.ID, "audit-more").is_displayed(), 5),
       "and goes once the whole log is shown")
    both_sizes(driver, "audit")


def errors_page(driver):
    driver.find_element(By.CSS_SELECTOR, ".brand").click()
    link = wait(driver, EC.element_to_be_clickable((By.ID, "load-errors-link")))
    ok(link is not None, "the DAG list's load errors banner links to the errors")
    link.click()
    rows = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#errors tbody tr"))
    got = [r.text for r in rows or []]
    ok(driver.current_url.endswith("#/errors") and len(got) == 2 and
       "daily_report.yaml:3:1" in got[0] and "unknown key 'scheduel'" in got[0] and
       "daily_report.yaml:9:7" in got[1],
       "#/errors: each error at file:line:col with its message", got)
    ok(bool(driver.find_elements(By.CSS_SELECTOR, '#errors a[href="#/dags/daily_report"]')),
       "and a link to its DAG")
    both_sizes(driver, "errors")


def viewer(driver):
    driver.find_element(By.ID, "logout").click()
    sign_in(driver, *VIEWER)
    wait(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#dags tbody tr")))
    ok(driver.find_elements(By.ID, "nav-pools") and not driver.find_elements(By.ID, "nav-audit"),
       "a viewer's navigation has Pools but no Audit")
    driver.get(URL + "/#/pools")
    ok(wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-pool="etl"]')),
       "a viewer sees the pools")
    ok(not driver.find_elements(By.ID, "pool-form") and
       not driver.find_elements(By.CSS_SELECTOR, ".pool-delete"),
       "but no form to set one, and no Delete")
    driver.save_screenshot(os.path.join(SHOTS, "pools-viewer-1280.png"))
    driver.get(URL + "/#/audit")
    note = wait(driver, lambda d: text(d, "#audit-denied"))
    ok(note and "admins only" in note and not driver.find_elements(By.CSS_SELECTOR, "main .error"),
       "#/audit tells a viewer it is for admins, without an error", text(driver, "main"))


def run(driver):
    viewport(driver, 1280, 720, False)
    driver.get(URL + "/")
    sign_in(driver, *ADMIN)
    ok(wait(driver, EC.presence_of_element_located((By.ID, "nav-audit"))) is not None,
       "an admin's navigation has Pools, Workers, Load errors and Audit",
       [text(driver, "body"), driver.get_log("browser")])
    run_page(driver)
    pools_page(driver)
    workers_page(driver)
    audit_page(driver)
    errors_page(driver)
    errors = console_errors(driver)
    ok(not errors, "no errors in the console (no CSP violation, no failed script)", errors)
    viewer(driver)


if __name__ == "__main__":
    main(run)
