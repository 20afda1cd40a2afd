"""The web UI in a real browser: Debian's Chromium, headless, driven by Selenium.

Pointed at /usr/bin/chromium and /usr/bin/chromedriver (`.ci/run` installs the
`chromium` and `chromium-driver` packages); nothing is downloaded. Without them
the tests are skipped, except under CI=true, where they fail. Runs are logged
into the session's real service; what the pages draw is read from the page's
own chart data (``window.mytrackCharts``), and each page is saved as a
screenshot under $MYTRACK_TEST_ARTIFACTS (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import numpy as np
import pytest

import mytrack
from mytrack._internal.transport import launcher, webui
from mytrack_service.settings import ServiceSettings
from mytrack_service.store.base import Batch, RunKey, RunRow
from mytrack_service.store.registry import open_store
from tests.helpers import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
QUIET = mytrack.Settings(quiet=True)
WAIT = 30.0


def _missing() -> str:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        return f"{' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[dev]')"
    return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, with its own profile."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mytrack-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1200", f"--user-data-dir={profile}", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def web() -> webui.WebAddress:
    client = launcher.connect(os.environ["MYTRACK_DIR"])
    try:
        address = webui.web_address(client)
    finally:
        client.close()
    assert address is not None, "the service serves no web UI"
    return address


@pytest.fixture
def shot(browser: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Saves a screenshot of the current page as a test artifact."""
    folder = Path(os.environ.get("MYTRACK_TEST_ARTIFACTS") or tmp_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> Path:
        path = folder / f"{request.node.name}-{name}.png"
        browser.save_screenshot(str(path))
        return path

    return save


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Iterator[None]:
    monkeypatch.setenv("MYTRACK_SILENT", "true")
    mytrack.finish()
    yield
    mytrack.finish()


def until(browser: Any, script: str, message: str, timeout: float = WAIT) -> Any:
    """Polls a JavaScript expression in the page until it is truthy; returns its value."""
    return wait_for(lambda: browser.execute_script(f"return ({script});"), timeout=timeout,
                    interval=0.1, message=message)


def chart_traces(browser: Any, chart_id: str) -> list[dict[str, Any]]:
    found = until(browser, f"window.mytrackCharts && window.mytrackCharts[{chart_id!r}]",
                  f"chart {chart_id!r} to be drawn")
    assert isinstance(found, list)
    return found


def log_two_runs(project: str) -> tuple[Any, Any, np.ndarray]:
    pixels = (np.arange(32 * 24 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    with mytrack.init(project=project, name="alpha", group="grp", config={"lr": 0.1}, settings=QUIET) as a:
        for step in range(50):
            a.log({"loss": 1.0 / (step + 1), "acc": step / 50})
        a.log({"sample": mytrack.Image(pixels, caption="the sample")})
    with mytrack.init(project=project, name="beta", group="grp", config={"lr": 0.2}, settings=QUIET) as b:
        for step in range(30):
            b.log({"loss": 2.0 / (step + 1)})
    return a, b, pixels


def test_runs_table_run_page_chart_notes_and_image(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """The runs table lists the runs; clicking one opens its page, whose loss chart holds the logged points, whose image
    panel shows the image, and whose notes editor saves."""
    from selenium.webdriver.common.by import By

    alpha, beta, pixels = log_two_runs(project)
    browser.get(alpha.project_url)
    until(browser, "document.querySelectorAll('#runs-table tr[data-run]').length === 2", "two rows")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#runs-table a.run-link")]
    assert names == ["beta", "alpha"]
    shot("runs")
    browser.find_element(By.LINK_TEXT, "alpha").click()
    until(browser, f"location.pathname.endsWith('/runs/{alpha.id}')", "the run page")
    loss = chart_traces(browser, "loss")
    assert loss[0]["x"] == list(range(50))
    assert loss[0]["y"] == pytest.approx([1.0 / (s + 1) for s in range(50)], rel=1e-12)
    assert browser.find_element(By.CSS_SELECTOR, '.chart-card[data-key="loss"] .chart').is_displayed()
    image = until(browser, "(function(){var i=document.querySelector('img.media-image');"
                           "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] : null;})()",
                  "the image to load")
    assert image == [pixels.shape[1], pixels.shape[0]]
    assert "the sample" in browser.find_element(By.CSS_SELECTOR, '[data-media="sample"]').text
    editor = browser.find_element(By.ID, "notes-editor")
    editor.clear()
    editor.send_keys("written in the browser")
    browser.find_element(By.ID, "notes-save").click()
    until(browser, "document.getElementById('notes-status').textContent === 'saved'", "the notes to save")
    shot("run")
    assert mytrack.Api().run(alpha.path).notes == "written in the browser"
    browser.refresh()
    until(browser, "document.getElementById('notes-editor') && "
                   "document.getElementById('notes-editor').value === 'written in the browser'",
          "the saved notes after a reload")


def test_compare_view_overlays_the_selected_runs(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """Selecting two runs and pressing Compare draws one loss chart with a line per run, or their group's mean with a
    band."""
    from selenium.webdriver.common.by import By

    alpha, beta, _ = log_two_runs(project)
    browser.get(alpha.project_url)
    until(browser, "document.querySelectorAll('#runs-table input.select-run').length === 2", "the checkboxes")
    for box in browser.find_elements(By.CSS_SELECTOR, "#runs-table input.select-run"):
        box.click()
    browser.find_element(By.ID, "compare").click()
    until(browser, "location.pathname.endsWith('/compare')", "the compare view")
    grouped = chart_traces(browser, "compare:loss")
    assert len(grouped) == 1 and grouped[0]["name"] == "grp (mean of 2)" and grouped[0]["band"]
    browser.find_element(By.ID, "compare-grouped").click()  # show the runs one by one
    lines = until(browser, "window.mytrackCharts['compare:loss'].length === 2 && window.mytrackCharts['compare:loss']",
                  "one line per run")
    by_name = {t["name"]: t for t in lines}
    assert by_name["alpha"]["y"] == pytest.approx([1.0 / (s + 1) for s in range(50)], rel=1e-12)
    assert by_name["beta"]["x"] == list(range(30))
    shot("compare")


def test_a_one_step_spike_in_a_million_is_drawn_zoomed_out(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """A run of 1,000,000 steps with one spike: the zoomed-out chart holds at most ~2,000 points, the spike among
    them."""
    entity = mytrack.Settings().resolve().entity or ""
    key = RunKey(entity, project, "spike1m")
    store = open_store(ServiceSettings.from_env().store_uri)  # the service's store, written directly: fast
    try:
        store.create_run(RunRow(key, name="spiky", state="finished", last_step=999_999))
        for start in range(0, 1_000_000, 100_000):
            rows = [(s, {"_step": s, "loss": 0.5}) for s in range(start, start + 100_000)]
            if start == 700_000:
                rows[31_337] = (731_337, {"_step": 731_337, "loss": 50.0})
            store.write_batch(Batch(key, rows))
    finally:
        store.close()
    browser.get(f"{web.base}/{quote(entity)}/{quote(project)}/runs/spike1m?token={web.token}")
    trace = chart_traces(browser, "loss")[0]
    assert len(trace["y"]) <= 2000
    assert max(trace["y"]) == 50.0 and trace["x"][trace["y"].index(50.0)] == 731_337
    total = until(browser, "document.querySelector('.chart[data-key=\"loss\"]').dataset.total", "the total")
    assert total == "1000000"
    shot("spike")
    # Zooming in fetches the exact points of the new range.
    browser.execute_script(
        "var el = document.querySelector('.chart[data-key=\"loss\"]');"
        "if (window.Plotly) { Plotly.relayout(el, {'xaxis.range': [731000, 731600]}); }"
        "else { el._mytrackSpec = null; }")
    if browser.execute_script("return !!window.Plotly"):
        zoomed = until(browser, "window.mytrackCharts['loss'][0].x.length === 601 && window.mytrackCharts['loss'][0]",
                       "the exact points of the zoomed range")
        assert zoomed["x"] == list(range(731_000, 731_601))
        assert zoomed["y"][337] == 50.0 and set(zoomed["y"][:337] + zoomed["y"][338:]) == {0.5}
        shot("spike-zoomed")


def test_the_fallback_chart_draws_without_plotly(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """With plotly.js unavailable the page draws its own SVG line through the same points."""
    alpha, _, _ = log_two_runs(project)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*plotly.min.js*"]})
    try:
        browser.get(alpha.url)
        loss = chart_traces(browser, "loss")
        assert loss[0]["x"] == list(range(50))
        assert browser.execute_script("return !!window.Plotly") is False
        until(browser, "document.querySelector('.chart[data-key=\"loss\"] svg.fallback path.trace')",
              "the SVG line")
        shot("fallback")
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


_LIVE_SCRIPT = """
import sys, time, mytrack
run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(quiet=True))
run.log({"i": 0})
print(run.url, flush=True)
for i in range(1, 1200):
    run.log({"i": i})
    time.sleep(0.05)
print("NOT STOPPED", flush=True)
"""


def test_a_live_run_updates_without_reload_and_stops_from_its_page(
    browser: Any, web: webui.WebAddress, project: str, workdir: Path, shot: Callable[[str], Path],
) -> None:
    """A running run's page shows a pulsing state, its chart grows by polling, and its Stop button ends the run as
    killed."""
    from selenium.webdriver.common.by import By

    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_LIVE_SCRIPT), project], cwd=workdir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith(web.base) and f"token={web.token}" in url
        browser.get(url)
        first = len(chart_traces(browser, "i")[0]["x"])
        badge = browser.find_element(By.CSS_SELECTOR, "#run-title .state")
        assert badge.text == "running" and "state-running" in badge.get_attribute("class")
        until(browser, f"window.mytrackCharts['i'][0].x.length > {first + 5}", "the chart to grow")
        shot("live")
        browser.find_element(By.ID, "stop-run").click()
        browser.switch_to.alert.accept()
        out, _ = process.communicate(timeout=30)
        assert "NOT STOPPED" not in out
        until(browser, "document.querySelector('#run-title .state').textContent === 'killed'",
              "the page to show the run killed")
        entity, proj, _, run_id = (unquote(p) for p in urlsplit(url).path.strip("/").split("/"))
        assert mytrack.Api().run(f"{entity}/{proj}/{run_id}").state == "killed"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_page_without_the_token_answers_401(browser: Any, web: webui.WebAddress, shot: Callable[[str], Path]) -> None:
    """Without the token (no cookie, none in the address) the browser gets the 401 page, not the UI."""
    browser.get(f"{web.base}/favicon.ico")
    browser.delete_all_cookies()
    browser.get(f"{web.base}/")
    assert "401" in browser.title or "401" in browser.find_element("tag name", "h1").text
    shot("unauthorized")
