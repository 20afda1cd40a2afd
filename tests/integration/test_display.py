"""run.display(): an IFrame of run.url when the web UI answers, else an HTML summary; False outside Jupyter."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack

IPython = pytest.importorskip("IPython")


class _Kernel:
    kernel = object()  # what a Jupyter kernel's shell has and a terminal IPython lacks


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Iterator[list[str]]:
    """Pretends to be inside a Jupyter kernel; collects the HTML display() shows."""
    import IPython.display

    markup: list[str] = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: _Kernel())
    monkeypatch.setattr(IPython.display, "display", lambda obj: markup.append(obj.data))
    monkeypatch.setenv("MYTRACK_SILENT", "true")
    mytrack.finish()
    yield markup
    mytrack.finish()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_outside_a_notebook_returns_false(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an IPython kernel display() shows nothing and returns False."""
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    run = mytrack.init(mode="disabled")
    assert run.display() is False
    run.finish()


def test_iframe_when_the_ui_answers(shown: list[str], project: str) -> None:
    """With the service's web UI answering at run.url (token included), display() renders an IFrame of it at the given
    height."""
    with mytrack.init(project=project, settings=mytrack.Settings(quiet=True)) as run:
        assert run.display(height=300, hidden=True) is True
        url = run.url
    assert url is not None and f"/runs/{run.id}?token=" in url
    assert shown == [f'<div style="display:none;"><iframe src="{url}" '
                     'style="border:none;width:100%;height:300px;"></iframe></div>']


def test_summary_when_the_ui_is_not_there(
    shown: list[str], project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no web UI answering at run.url, display() renders the run's name, path, config and latest summary values."""
    from mytrack._internal.transport import webui

    nowhere = webui.WebAddress(f"http://127.0.0.1:{_free_port()}", "t")
    monkeypatch.setattr(webui, "from_reply", lambda reply: nowhere)
    settings = mytrack.Settings(quiet=True)
    with mytrack.init(project=project, config={"lr": 0.01}, name="my-run", settings=settings) as run:
        run.log({"loss": 0.25, "note": "<ok>"})
        assert run.display() is True
        path = run.path
    (markup,) = shown
    assert f"<h3>my-run <small>{path}</small></h3>" in markup
    assert "<h4>Config</h4><table><tr><td>lr</td><td>0.01</td></tr></table>" in markup
    assert "<tr><td>loss</td><td>0.25</td></tr>" in markup and "<td>&lt;ok&gt;</td>" in markup
