"""The run page's Delete action and dark mode, in real Chromium (fixtures of test_web_browser.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack import errors
from mytrack._internal.transport import webui
from mytrack_service.blobs.registry import open_blobs
from mytrack_service.settings import ServiceSettings
from tests.e2e.test_web_browser import QUIET, _quiet, browser, shot, until, web  # noqa: F401 - fixtures
from tests.helpers import sha, wait_for


def test_delete_on_the_run_page_removes_the_run_and_its_blob(
    browser: Any, web: webui.WebAddress, project: str, workdir: Path,  # noqa: F811
    shot: Callable[[str], Path],  # noqa: F811
) -> None:
    """Delete (confirmed) removes the run from the store, its only-used blob from the blob
    store, and goes back to the project's table, which no longer lists it."""
    from selenium.webdriver.common.by import By

    content = b"only this run saved this " + project.encode()
    (workdir / "notes.txt").write_bytes(content)
    with mytrack.init(project=project, name="doomed", settings=QUIET) as run:
        run.save(str(workdir / "notes.txt"), base_path=str(workdir), policy="now")
        run.log({"loss": 1.0})
    with mytrack.init(project=project, name="survivor", settings=QUIET) as other:
        other.log({"loss": 2.0})
    blobs = open_blobs(ServiceSettings.from_env().blobs_uri)
    wait_for(lambda: blobs.exists(sha(content)), timeout=20, message="the file to be uploaded")
    browser.get(run.url)
    button = until(browser, "document.getElementById('delete-run')", "the Delete button")
    shot("run")
    browser.execute_script("window.confirm = function () { return true; };")
    button.click()
    until(browser, f"location.pathname === '/{run.entity}/{project}'", "the project page")
    until(browser, "document.querySelectorAll('#runs-table tr[data-run]').length === 1", "one row")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#runs-table a.run-link")]
    assert names == ["survivor"]
    with pytest.raises(errors.RunNotFoundError):
        mytrack.Api().run(run.path)
    assert not blobs.exists(sha(content))


def test_a_live_run_has_stop_but_no_delete(
    browser: Any, project: str,  # noqa: F811
) -> None:
    """While the run is live the page offers Stop, not Delete; the route refuses it too."""
    run = mytrack.init(project=project, settings=QUIET)
    try:
        browser.get(run.url)
        until(browser, "document.getElementById('stop-run')", "the Stop button")
        assert browser.execute_script("return document.getElementById('delete-run');") is None
        answer = browser.execute_async_script("""
            var done = arguments[arguments.length - 1];
            fetch('/api/runs/delete', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json', 'X-Mytrack-Token':
                document.querySelector('meta[name="mytrack-token"]').content},
              body: JSON.stringify({runs: [arguments[0]]})}).then(r => r.json()).then(done);
        """, run.path)
        assert answer["deleted"] == [] and "is live" in answer["refused"][0]["error"]
    finally:
        run.finish()


def test_dark_mode_follows_the_system_setting(browser: Any, web: webui.WebAddress) -> None:  # noqa: F811
    """With prefers-color-scheme: dark emulated, the page background turns dark."""
    browser.get(web.page())
    light = browser.execute_script("return getComputedStyle(document.body).backgroundColor;")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    try:
        dark = until(browser, "getComputedStyle(document.body).backgroundColor !== "
                              f"{light!r} && getComputedStyle(document.body).backgroundColor",
                     "the dark background")
        assert dark == "rgb(18, 22, 29)"
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
