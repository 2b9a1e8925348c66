"""What the browser tests (tests/ui/test_*.py) share: TAP output, waiting,
screenshots, signing in, and the WebDriver session.

Each test is run as `test_X.py URL SHOTS_DIR FIRST_TAP_NUMBER COUNT_FILE`
(tests/cli/browser.sh): it prints TAP lines numbered from FIRST_TAP_NUMBER
and writes "RUN FAILED" to COUNT_FILE at its end.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL, SHOTS, FIRST, COUNT_FILE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
OPERATOR = ("olga", "an operator password")
VIEWER = ("vera", "a viewer password")
n, failed = FIRST - 1, 0


def ok(cond, desc, diag=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc), flush=True)
    if not cond:
        failed += 1
        if diag:
            for line in str(diag).splitlines()[:30]:
                print("#   " + line)


def wait(driver, cond, timeout=20):
    # A page that re-renders (the list after a toggle) replaces the element
    # a condition just found: look again rather than fail.
    try:
        return WebDriverWait(driver, timeout,
                             ignored_exceptions=(StaleElementReferenceException,)).until(cond)
    except TimeoutException:
        return None


def shot(driver, name):
    path = os.path.join(SHOTS, name + ".png")
    driver.save_screenshot(path)
    return path


def sql(statements):
    """Runs statements in the test's database, as the scheduler would write."""
    for st in statements:
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-c", st], check=True, stdout=subprocess.DEVNULL)


def viewport(driver, width, height, mobile):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1,
                            "mobile": mobile})


def sign_in(driver, user, password):
    field = wait(driver, EC.element_to_be_clickable((By.ID, "login-user")))
    if not field:
        return False
    field.clear()
    field.send_keys(user)
    pw = driver.find_element(By.ID, "login-password")
    pw.clear()
    pw.send_keys(password, Keys.ENTER)  # Enter submits: a real form
    return True


def session_status(driver):
    return driver.execute_async_script(
        "const done = arguments[0];"
        "fetch('/api/v1/session', {credentials: 'same-origin'}).then(r => done(r.status));")


def console_errors(driver):
    # Network answers (401 before sign-in, 404 for a route this daemon
    # lacks) are the API's business; script errors and CSP violations are not.
    return [e for e in driver.get_log("browser")
            if e.get("level") == "SEVERE" and e.get("source") != "network"]


def main(run):
    opts = webdriver.ChromeOptions()
    opts.add_argument("--headless=new")
    opts.add_argument("--no-sandbox")  # root in CI has no user namespace sandbox
    opts.add_argument("--disable-dev-shm-usage")
    opts.add_argument("--window-size=1280,720")
    profile = tempfile.mkdtemp(prefix="sluice-chromium.")
    opts.add_argument("--user-data-dir=" + profile)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "chromedriver")),
                              options=opts)
    try:
        run(driver)
    except Exception:  # a step that broke: a failure, and the count still reported
        ok(False, "the browser session ran without an exception", traceback.format_exc())
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        with open(COUNT_FILE, "w") as f:
            f.write("%d %d\n" % (n - FIRST + 1, failed))
