"""The runs table as a workspace in a real browser (headless Chromium via Selenium, as test_web_browser.py): the
column picker and pinned columns, grouping by a nested config key, a copied link reproducing the view in a fresh
browser session, saved views, and bulk tagging read back through `mytrack.Api()`."""

# ruff: noqa: F811 - the fixtures imported from test_web_browser are the tests' arguments
from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mytrack
from mytrack._internal.transport import webui
from tests.e2e.test_web_browser import (  # noqa: F401 - fixtures
    CHROMEDRIVER,
    CHROMIUM,
    QUIET,
    _quiet,
    browser,
    shot,
    until,
    web,
)

CONFIGS = [
    {"optimizer": "adam", "model": {"depth": 2}, "lr": 0.1},
    {"optimizer": "sgd", "model": {"depth": 2}, "lr": 0.01},
    {"optimizer": "adam", "model": {"depth": 4}, "lr": 0.001},
]


def log_runs(project: str) -> list[Any]:
    runs = []
    for i, config in enumerate(CONFIGS):
        with mytrack.init(project=project, name=f"r{i}", config=config, settings=QUIET) as run:
            run.log({"acc": 0.5 + i / 10})
        runs.append(run)
    return runs


def rows(browser: Any) -> list[str]:
    return browser.execute_script(  # type: ignore[no-any-return]
        "return Array.from(document.querySelectorAll('#runs-table tr[data-run] a.run-link')).map(a => a.textContent);")


def open_table(browser: Any, run: Any, query: str = "", count: int = 3) -> None:
    browser.get(run.project_url + ("&" + query if query else ""))
    until(browser, f"document.querySelectorAll('#runs-table tr[data-run]').length === {count}", f"{count} rows")


@contextmanager
def fresh_browser() -> Iterator[Any]:
    """Another Chromium with an empty profile: no cookie, no history."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mytrack-chromium-fresh-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1200", f"--user-data-dir={profile}", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_column_picker_adds_pins_and_removes_columns(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """The picker lists config, summary, system and metadata columns; ticking system.hostname shows each run's host,
    pinning config.lr puts it first among the sticky columns, unticking summary.acc removes it; the URL keeps it all."""
    from selenium.webdriver.common.by import By

    runs = log_runs(project)
    open_table(browser, runs[0])
    assert browser.find_element(By.CSS_SELECTOR, '#runs-table th[data-col="summary.acc"]')
    browser.find_element(By.ID, "columns-button").click()
    for section in ("run", "summary", "config", "system", "metadata"):
        assert browser.find_elements(By.CSS_SELECTOR, f'#column-picker [data-section="{section}"] input.col-toggle')
    browser.find_element(By.CSS_SELECTOR, '#column-picker input.col-toggle[data-col="system.hostname"]').click()
    until(browser, "document.querySelector('#runs-table th[data-col=\"system.hostname\"]')", "the hostname column")
    hosts = {e.text for e in browser.find_elements(By.CSS_SELECTOR, '#runs-table td[data-col="system.hostname"]')}
    assert hosts == {socket.gethostname()}
    browser.find_element(By.CSS_SELECTOR, '#column-picker button.col-pin[data-col="config.lr"]').click()
    until(browser, "document.querySelector('#runs-table th[data-col=\"config.lr\"].pinned')", "config.lr pinned")
    headers = [e.get_attribute("data-col") for e in browser.find_elements(By.CSS_SELECTOR, "#runs-table th[data-col]")]
    assert headers[:2] == ["name", "config.lr"]
    browser.find_element(By.CSS_SELECTOR, '#column-picker input.col-toggle[data-col="summary.acc"]').click()
    until(browser, "!document.querySelector('#runs-table th[data-col=\"summary.acc\"]')", "summary.acc removed")
    shot("columns")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert json.loads(query["pin"][0]) == ["name", "config.lr"]
    assert "system.hostname" in json.loads(query["cols"][0]) and "summary.acc" not in json.loads(query["cols"][0])


def test_group_by_a_nested_config_key_shows_aggregate_rows(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """Grouping by config.model.depth puts a group row (value, count, mean of the summary) above each group's runs."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    runs = log_runs(project)
    open_table(browser, runs[0])
    Select(browser.find_element(By.ID, "runs-groupby")).select_by_value("config.model.depth")
    until(browser, "document.querySelectorAll('#runs-table tr.grouprow').length === 2", "two group rows")
    groups = browser.find_elements(By.CSS_SELECTOR, "#runs-table tr.grouprow")
    assert [g.get_attribute("data-group") for g in groups] == ["2", "4"]
    assert "2 runs" in groups[0].text and "1 runs" in groups[1].text
    mean = groups[0].find_element(By.CSS_SELECTOR, 'td[data-col="summary.acc"]').get_attribute("title")
    assert mean.startswith("mean 0.55, min 0.5, max 0.6")
    order = browser.execute_script(
        "return Array.from(document.querySelectorAll('#runs-table tbody tr'))"
        ".map(r => r.dataset.group ? 'g' + r.dataset.group : r.querySelector('a.run-link').textContent);")
    assert order == ["g2", "r1", "r0", "g4", "r2"]
    shot("grouped")
    assert parse_qs(urlsplit(browser.current_url).query)["group_by"] == ["config.model.depth"]


def test_a_copied_link_reproduces_the_view_in_a_fresh_browser(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """Filter (a bare key), sort, grouping, a selected run and the charts' settings survive a copied link opened in a
    new browser profile that has only logged in."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    runs = log_runs(project)
    open_table(browser, runs[0], "chart.smoothing=0.6")
    box = browser.find_element(By.ID, "runs-filter")
    box.send_keys("optimizer = adam\n")
    until(browser, "document.querySelectorAll('#runs-table tr[data-run]').length === 2", "the adam runs")
    browser.find_element(By.CSS_SELECTOR, '#runs-table th[data-col="config.lr"]').click()  # -config.lr
    until(browser, "document.querySelector('#runs-table th[data-col=\"config.lr\"]').textContent.endsWith('▼')",
          "sorted")
    Select(browser.find_element(By.ID, "runs-groupby")).select_by_value("config.optimizer")
    until(browser, "document.querySelectorAll('#runs-table tr.grouprow').length === 1", "one group")
    browser.find_element(By.CSS_SELECTOR, f'#runs-table input.select-run[data-run="{runs[2].id}"]').click()
    expected = rows(browser)
    assert expected == ["r0", "r2"]
    browser.find_element(By.ID, "copy-link").click()
    link = until(browser, "document.getElementById('view-link').value", "the link")
    assert "token=" not in link and "chart.smoothing=0.6" in link
    shot("before")
    with fresh_browser() as other:
        other.get(f"{web.base}/?token={web.token}")  # log in, as `mytrack ui` prints it
        other.get(link)
        until(other, "document.querySelectorAll('#runs-table tr.grouprow').length === 1", "the grouped view")
        assert rows(other) == expected
        assert other.find_element(By.ID, "runs-filter").get_attribute("value") == "optimizer = adam"
        assert other.find_element(By.CSS_SELECTOR, '#runs-table th[data-col="config.lr"]').text.endswith("▼")
        checked = other.execute_script(
            "return Array.from(document.querySelectorAll('#runs-table input.select-run:checked'))"
            ".map(b => b.dataset.run);")
        assert checked == [runs[2].id]
        other.find_element(By.ID, "compare").click()
        until(other, "location.pathname.endsWith('/compare')", "the compare view")
        compare = parse_qs(urlsplit(other.current_url).query)
        assert compare["runs"] == [runs[2].id] and compare["chart.smoothing"] == ["0.6"]


def test_saved_views_are_listed_and_restore_the_view(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """A view saved under a name is offered on a plain page of the project and choosing it restores its filter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    runs = log_runs(project)
    open_table(browser, runs[0])
    browser.find_element(By.ID, "runs-filter").send_keys("optimizer = sgd\n")
    until(browser, "document.querySelectorAll('#runs-table tr[data-run]').length === 1", "the sgd run")
    browser.find_element(By.ID, "view-name").send_keys("sgd only")
    browser.find_element(By.ID, "view-save").click()
    until(browser, "Array.from(document.querySelectorAll('#views option')).some(o => o.value === 'sgd only')", "saved")
    open_table(browser, runs[0])
    until(browser, "Array.from(document.querySelectorAll('#views option')).some(o => o.value === 'sgd only')", "listed")
    Select(browser.find_element(By.ID, "views")).select_by_value("sgd only")
    until(browser, "document.querySelectorAll('#runs-table tr[data-run]').length === 1", "the view's rows")
    assert rows(browser) == ["r1"]
    assert parse_qs(urlsplit(browser.current_url).query)["filter"] == ["optimizer = sgd"]
    shot("view")


def test_bulk_tag_and_move_to_group(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],
) -> None:
    """Selecting two runs and pressing Tag, then Move to group, changes exactly those runs, as Api() reads back."""
    from selenium.webdriver.common.by import By

    runs = log_runs(project)
    open_table(browser, runs[0])
    for run in runs[:2]:
        browser.find_element(By.CSS_SELECTOR, f'#runs-table input.select-run[data-run="{run.id}"]').click()
    browser.find_element(By.ID, "bulk-text").send_keys("best")
    browser.find_element(By.ID, "bulk-tag").click()
    until(browser, "document.querySelectorAll('#runs-table td[data-col=\"tags\"] .tag').length === 2", "two tags")
    browser.find_element(By.ID, "bulk-group").click()
    until(browser, "Array.from(document.querySelectorAll('#runs-table td[data-col=\"group\"]'))"
                   ".filter(td => td.textContent === 'best').length === 2", "two runs in the group")
    shot("bulk")
    read = {r.name: r for r in mytrack.Api().runs(f"{runs[0].entity}/{project}")}
    assert (read["r0"].tags, read["r1"].tags, read["r2"].tags) == (["best"], ["best"], [])
    assert (read["r0"].group, read["r1"].group, read["r2"].group) == ("best", "best", "")
