"""Delivery of alerts to a webhook (``MYTRACK_ALERT_WEBHOOK``).

Alerts reach this module only after the applier has committed them to the
store (where they are kept in the run's ``metadata["alerts"]``) and after the
per-title rate limit (runstate). One background thread posts each as a
Slack-compatible JSON message; a network error, a 429 or a 5xx answer is
retried with exponential backoff and jitter (``Retry-After`` honoured), other
4xx answers are given up at once. At shutdown the queue is drained for a
bounded time. A webhook URL holds a secret (Slack's do): logs show only its
scheme and host.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mytrack_common.retry import Backoff

if TYPE_CHECKING:
    import urllib.error

logger = logging.getLogger("mytrack_service.outbound.alerts")

_ATTEMPTS = 5
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_COLORS = {"INFO": "#2eb886", "WARN": "#daa038", "ERROR": "#a30200"}


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON body for one alert (Slack incoming-webhook format)."""
    level, title, text, run = alert["level"], alert["title"], alert["text"], alert["run"]
    return {
        "text": f"*[{level}] {title}*\n{text}\nRun: {run}",
        "attachments": [{
            "color": _COLORS.get(level, "#439fe0"),
            "title": title,
            "text": text,
            "fields": [
                {"title": "Level", "value": level, "short": True},
                {"title": "Run", "value": run, "short": True},
            ],
            "ts": int(alert["timestamp"]),
        }],
    }


def redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/..."


class _GiveUp(Exception):
    """An answer that retrying will not change (a 4xx other than 429)."""


class AlertSender:
    """Posts alerts to ``url`` from one thread, in order, with retries."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0
        self.last_error = ""
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._deadline: float | None = None  # set by stop(): drain until then
        self._thread = threading.Thread(target=self._run, name="mytrack-alerts", daemon=True)

    @classmethod
    def from_url(cls, url: str) -> AlertSender | None:
        """A sender for ``url``; None (with a logged error) when it is empty or not http(s)."""
        if not url:
            return None
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            logger.error("MYTRACK_ALERT_WEBHOOK is not an http(s) URL (%s): alerts are not delivered",
                         redact(url))
            return None
        return cls(url)

    def start(self) -> None:
        logger.info("alerts go to the webhook at %s", redact(self.url))
        self._thread.start()

    def submit(self, alerts: list[dict[str, Any]]) -> None:
        with self._cond:
            self._queue.extend(alerts)
            self._cond.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Delivers what is queued for at most ``timeout`` seconds, then stops."""
        with self._cond:
            self._deadline = time.monotonic() + timeout
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        if self._queue:
            logger.warning("%d alert(s) not delivered before shutdown", len(self._queue))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and self._deadline is None:
                    self._cond.wait()
                if not self._queue or self._past_deadline():
                    return
                alert = self._queue.popleft()
            self._deliver(alert)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _deliver(self, alert: dict[str, Any]) -> None:
        body = json.dumps(payload(alert)).encode()
        backoff = Backoff(_BACKOFF_FIRST, _BACKOFF_MAX, jitter=(0.5, 1.5))
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                self._post(body)
                self.delivered += 1
                return
            except _GiveUp as exc:
                self._failed(alert, str(exc))
                return
            except _Retry as exc:
                delay = backoff.failed()
                wait = exc.after if exc.after is not None else delay
                self.last_error = str(exc)
                if attempt == _ATTEMPTS or not self._pause(min(wait, _BACKOFF_MAX)):
                    break
        self._failed(alert, self.last_error)

    def _pause(self, seconds: float) -> bool:
        """Sleeps before a retry; False when shutdown's deadline comes first."""
        end = time.monotonic() + seconds
        with self._cond:
            while True:
                if self._deadline is not None and end > self._deadline:
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._cond.wait(left)  # stop() wakes us to look at its deadline

    def _failed(self, alert: dict[str, Any], reason: str) -> None:
        self.failed += 1
        self.last_error = reason
        logger.warning("alert %r of %s not delivered to %s: %s", alert["title"], alert["run"],
                       redact(self.url), reason)

    def _post(self, body: bytes) -> None:
        import urllib.error  # at the first alert: most services never send one
        import urllib.request

        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "mytrack-service"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                reply.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise _Retry(f"HTTP {exc.code}", _retry_after(exc)) from None
            raise _GiveUp(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retry(f"{type(exc).__name__}: {reason}", None) from None


class _Retry(Exception):
    def __init__(self, message: str, after: float | None) -> None:
        super().__init__(message)
        self.after = after


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, min(float(value), _BACKOFF_MAX)) if value else None
    except ValueError:
        return None
