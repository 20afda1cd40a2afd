"""The UI's token is the home's: a printed address still opens after the service restarted,
in real Chromium, and `mytrack ui --rotate-token` replaces it. A service of its own home."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mytrack._internal.transport import launcher, webui
from tests.e2e.test_web_browser import browser, until  # noqa: F401 - a fixture
from tests.helpers import stop_home


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "home"
    yield folder
    stop_home(folder)


def address(home: Path) -> webui.WebAddress:
    client = launcher.connect(str(home))
    try:
        found = webui.web_address(client)
    finally:
        client.close()
    assert found is not None
    return found


def ui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MYTRACK_DIR": str(home)}
    return subprocess.run([sys.executable, "-m", "mytrack.cli", "ui", "--print", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_an_old_address_opens_after_a_restart_until_the_token_is_rotated(
    browser: Any, home: Path,  # noqa: F811
) -> None:
    """The token file (0600) outlives the service; the address printed before a restart opens
    the UI in a fresh browser afterwards; --rotate-token makes it answer 401."""
    first = address(home)
    stop_home(home)
    assert (home / "web.token").stat().st_mode & 0o777 == 0o600
    second = address(home)
    assert second.token == first.token
    browser.delete_all_cookies()
    browser.get(f"{second.base}/?token={first.token}")
    until(browser, "document.querySelector('#main') && !/token needed/.test(document.title)",
          "the projects page")
    rotated = ui(home, "--rotate-token")
    assert rotated.returncode == 0, rotated.stderr
    assert first.token not in rotated.stdout and address(home).token != first.token
    browser.delete_all_cookies()
    browser.get(f"{second.base}/?token={first.token}")
    assert "token needed" in browser.title
