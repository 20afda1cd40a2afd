"""`mytrack ui --host`: beyond loopback only when asked, with a warning; the service's web
server then answers on this machine's other addresses (in real Chromium too), POSTs
addressed by IP are let in and those naming another host are not. A service of its own home."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mytrack._internal.ui_cli import _interface_addresses
from mytrack_service.settings import ui_host
from tests.e2e.test_web_browser import browser, until  # noqa: F401 - a fixture
from tests.helpers import stop_home


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "home"
    yield folder
    stop_home(folder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MYTRACK_UI_HOST"}
    env["MYTRACK_DIR"] = str(home)
    return subprocess.run([sys.executable, "-m", "mytrack.cli", "ui", "--print", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def request(url: str, token: str, body: Any = None, headers: dict[str, str] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    sent = {"X-Mytrack-Token": token, "Content-Type": "application/json", **(headers or {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=sent), timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def outside_address() -> str | None:
    found = _interface_addresses("0.0.0.0")
    return found[0] if found else None


def test_host_0000_warns_and_serves_on_a_non_loopback_address(
    browser: Any, home: Path,  # noqa: F811
) -> None:
    """--host 0.0.0.0 prints the token warning and the SSH-tunnel way; the UI answers on this
    machine's own address (else, where it has none, on 127.0.0.1), in Chromium too; a POST
    addressed to that IP passes the origin check, one naming another host does not."""
    port = free_port()
    done = ui(home, "--host", "0.0.0.0", "--port", str(port))
    assert done.returncode == 0, done.stderr
    assert "only protection" in done.stderr and f"ssh -L {port}:127.0.0.1:{port}" in done.stderr
    lines = done.stdout.split()
    assert lines[0].startswith(f"http://127.0.0.1:{port}/?token=")
    token = lines[0].split("token=", 1)[1]
    address = outside_address() or "127.0.0.1"
    assert answers(address, port)
    if address != "127.0.0.1":
        assert f"http://{address}:{port}/?token={token}" in lines
    base = f"http://{address}:{port}"
    assert request(f"{base}/api/projects", token) == 200
    assert request(f"{base}/api/projects", "wrong") == 401
    notes = f"{base}/api/runs/e/p/nothere/notes"
    assert request(notes, token, {"notes": "x"}, {"Origin": base}) == 404  # let in: no such run
    evil = f"http://evil.example:{port}"
    assert request(notes, token, {"notes": "x"}, {"Origin": evil, "Host": f"evil.example:{port}"}) == 403
    browser.delete_all_cookies()
    browser.get(f"{base}/?token={token}")
    until(browser, "document.querySelector('#main') && !/token needed/.test(document.title) && "
                   "!/Loading/.test(document.getElementById('main').textContent)", "the projects page")
    assert urlsplit(browser.current_url).hostname == address


def test_without_host_the_ui_stays_on_loopback_and_says_so_when_asked_late(home: Path) -> None:
    """Without --host the UI answers on 127.0.0.1 only and no warning is printed; asking for
    --host of a service already running on loopback says to restart it."""
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address beyond loopback")
    port = free_port()
    done = ui(home, "--port", str(port))
    assert done.returncode == 0 and "warning" not in done.stderr
    assert answers("127.0.0.1", port) and not answers(address, port)
    late = ui(home, "--host", "0.0.0.0")
    assert late.returncode == 0
    assert "only protection" in late.stderr and "mytrack-service stop" in late.stderr
    assert not answers(address, port)


def test_ui_host_setting_accepts_addresses_and_names_only() -> None:
    """MYTRACK_UI_HOST: default loopback; IP addresses (IPv6 in brackets too) and host names;
    anything else is refused with the variable's name."""
    assert ui_host(None) == ui_host(" ") == "127.0.0.1"
    assert ui_host("0.0.0.0") == "0.0.0.0" and ui_host("[::]") == "::"
    assert ui_host("GPU-box.local") == "gpu-box.local"
    for bad in ("http://x", "a b", "x/y", "-x"):
        with pytest.raises(ValueError, match="MYTRACK_UI_HOST"):
            ui_host(bad)
