"""run.alert(): stored with the run, printed, rate-limited per title in the service, delivered to a webhook.

The webhook is a real HTTP server on 127.0.0.1 (port 0). Each test that needs
delivery gets a fresh MYTRACK_DIR whose environment names that webhook, so the
SDK starts a service of its own that reads MYTRACK_ALERT_WEBHOOK; the test
stops that service at the end.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack.errors import InvalidTypeError, InvalidValueError, PreInitError
from tests.helpers import stop_service, wait_for

QUIET = mytrack.Settings(quiet=True)


@dataclass
class Webhook:
    """What the test webhook received, and the statuses it answers with (then 200)."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[str]:
        with self.lock:
            return [p["attachments"][0]["text"] for p in self.posts]


def _handler(hook: Webhook) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with hook.lock:
                hook.attempts += 1
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    assert self.headers["Content-Type"] == "application/json"
                    hook.posts.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhook(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
            workdir: Path) -> Iterator[Webhook]:
    """A webhook server, and a fresh service home whose environment points at it."""
    hook = Webhook()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token"
    home = tmp_path_factory.mktemp("alert-home")
    monkeypatch.setenv("MYTRACK_DIR", str(home))
    monkeypatch.setenv("MYTRACK_ALERT_WEBHOOK", hook.url)
    monkeypatch.setenv("MYTRACK_SILENT", "true")
    mytrack.finish()
    try:
        yield hook
    finally:
        mytrack.finish()
        stop_service(home)
        server.shutdown()
        server.server_close()


def test_alert_is_delivered_stored_and_printed(webhook: Webhook, project: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Each alert reaches the webhook as Slack-compatible JSON, is printed, and is readable through Api."""
    before = time.time()
    with mytrack.init(project=project, settings=mytrack.Settings(quiet=False)) as run:
        run.alert("Loss exploded", "loss is NaN at step 3", level=mytrack.AlertLevel.ERROR, wait_duration=0)
        run.alert("Checkpoint", "saved epoch 1", level="warn", wait_duration=datetime.timedelta(minutes=2))
        path = run.path
    assert "mytrack: alert [ERROR] Loss exploded: loss is NaN at step 3" in capsys.readouterr().err
    wait_for(lambda: len(webhook.posts) == 2, 20, message="two webhook posts")
    first = webhook.posts[0]
    assert first["text"] == f"*[ERROR] Loss exploded*\nloss is NaN at step 3\nRun: {path}"
    attachment = first["attachments"][0]
    assert {k: attachment[k] for k in ("title", "text", "fields")} == {
        "title": "Loss exploded", "text": "loss is NaN at step 3",
        "fields": [{"title": "Level", "value": "ERROR", "short": True},
                   {"title": "Run", "value": path, "short": True}],
    }
    assert before - 1 <= attachment["ts"] <= time.time()
    assert webhook.texts() == ["loss is NaN at step 3", "saved epoch 1"]
    alerts = mytrack.Api().run(path).alerts
    assert [{k: a[k] for k in ("title", "text", "level", "wait_duration")} for a in alerts] == [
        {"title": "Loss exploded", "text": "loss is NaN at step 3", "level": "ERROR", "wait_duration": 0.0},
        {"title": "Checkpoint", "text": "saved epoch 1", "level": "WARN", "wait_duration": 120.0},
    ]
    assert before <= alerts[0]["timestamp"] <= alerts[1]["timestamp"] <= time.time()


def test_rate_limit_per_title_holds_across_processes_and_a_restart(
    webhook: Webhook, project: str, run_script: Callable[..., Any],
) -> None:
    """A second process resuming the run after a service restart cannot resend a title within wait_duration."""
    script = """
        import mytrack
        run = mytrack.init(project={project!r}, id="alertrun", resume="allow",
                           settings=mytrack.Settings(quiet=True))
        for title, text in {alerts!r}:
            run.alert(title, text, wait_duration=300)
        run.finish()
    """
    run_script(script.format(project=project, alerts=[("disk full", "first"), ("nan", "other title")]))
    wait_for(lambda: len(webhook.posts) == 2, 20, message="the first process's alerts")
    stop_service(Path(mytrack.Settings().resolve().service_dir or ""))
    run_script(script.format(project=project, alerts=[("disk full", "again"), ("disk full", "and again"),
                                                      ("fresh", "last")]))
    # Delivery is in order: once "last" arrived, the suppressed ones would have come before it.
    wait_for(lambda: len(webhook.posts) == 3, 20, message="the second process's new title")
    assert webhook.texts() == ["first", "other title", "last"]
    api_run = mytrack.Api().run(f"{project}/alertrun")
    assert [a["text"] for a in api_run.alerts] == ["first", "other title", "last"]
    assert api_run.metadata["alerts_suppressed"] == 2


def test_alert_after_wait_duration_is_sent_again(webhook: Webhook, project: str) -> None:
    """A title is sent again once its wait_duration has passed (by the alerts' own timestamps)."""
    with mytrack.init(project=project, settings=QUIET) as run:
        run.alert("tick", "one", wait_duration=0.2)
        run.alert("tick", "suppressed", wait_duration=0.2)
        time.sleep(0.3)  # the wait_duration itself is what is under test
        run.alert("tick", "two", wait_duration=0.2)
        path = run.path
    wait_for(lambda: len(webhook.posts) == 2, 20, message="two posts")
    assert webhook.texts() == ["one", "two"]
    assert [a["text"] for a in mytrack.Api().run(path).alerts] == ["one", "two"]


def test_webhook_errors_are_retried(webhook: Webhook, project: str) -> None:
    """5xx and 429 answers are retried until the webhook accepts the alert, once."""
    webhook.statuses.extend([500, 429])
    with mytrack.init(project=project, settings=QUIET) as run:
        run.alert("flaky", "eventually", wait_duration=0)
    wait_for(lambda: len(webhook.posts) == 1, 30, message="the retried post")
    assert webhook.attempts == 3 and webhook.texts() == ["eventually"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"title": "x" * 64}, InvalidValueError, "under 64 characters, got 64"),
        ({"title": ""}, InvalidTypeError, "title must be a non-empty string"),
        ({"text": 5}, InvalidTypeError, "text must be a string"),
        ({"level": "DEBUG"}, InvalidValueError, "level must be INFO, WARN, ERROR"),
        ({"wait_duration": -1}, InvalidValueError, "zero or more seconds"),
        ({"wait_duration": "5"}, InvalidTypeError, "seconds .* or a timedelta"),
    ],
)
def test_bad_alert_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    """Bad titles, levels and wait durations raise at the call, even on a disabled run."""
    run = mytrack.init(mode="disabled", settings=QUIET)
    try:
        arguments = {"title": "ok", "text": "t", **kwargs}
        with pytest.raises(error, match=message):
            run.alert(**arguments)
        run.alert("x" * 63, "63 characters are fine", level="error")
    finally:
        run.finish()


def test_module_alert_before_init() -> None:
    """mytrack.alert() before init() raises PreInitError."""
    mytrack.finish()
    with pytest.raises(PreInitError, match="before mytrack.alert"):
        mytrack.alert("t", "x")
