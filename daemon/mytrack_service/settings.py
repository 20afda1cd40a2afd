"""The service's settings, from the command line and MYTRACK_* variables.

Each variable is read here and nowhere else; docs/configuration.md lists them.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from mytrack_service.blobs.registry import default_blobs_uri
from mytrack_service.store.registry import default_store_uri

_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?")


@dataclass(frozen=True)
class ServiceSettings:
    home: str
    store_uri: str
    blobs_uri: str
    idle_timeout: float  # seconds with no open run before the service exits
    max_workers: int  # gRPC handler threads: one per open stream, plus queries
    # Seconds without records or heartbeats (and no open stream) after which a
    # writer on another host counts as crashed; local ones are checked by pid.
    heartbeat_timeout: float
    # Seconds between system-metrics samples of each live run; 0 turns them off.
    stats_interval: float = 10.0
    # Where alerts are POSTed (Slack-compatible JSON); "" delivers none.
    alert_webhook: str = ""
    # The web UI's port on 127.0.0.1 (a free one when taken); 0 turns the UI off.
    ui_port: int = 6017
    # The address the web UI binds: loopback unless asked (0.0.0.0 or :: for every
    # interface); beyond loopback the token is the UI's only protection.
    ui_host: str = "127.0.0.1"
    # Blobs written less than this many seconds ago are kept by the blob sweep even
    # when unreferenced: another service sharing the stores may be committing them.
    gc_grace: float = 0.0
    # Seconds a sweep's pending trial (handed out, its run not started) lives without
    # word from its agent before it counts as crashed.
    sweep_pending_lease: float = 60.0

    @classmethod
    def from_env(cls, home: str | None = None, idle_timeout: float | None = None) -> ServiceSettings:
        env = os.environ
        home = os.path.abspath(os.path.expanduser(
            home or env.get("MYTRACK_DIR") or os.path.join("~", ".mytrack")
        ))
        if idle_timeout is None:
            idle_timeout = float(env.get("MYTRACK_SERVICE_IDLE_TIMEOUT") or 600)
        return cls(
            home=home,
            store_uri=env.get("MYTRACK_STORE") or default_store_uri(home),
            blobs_uri=env.get("MYTRACK_BLOBS") or default_blobs_uri(home),
            idle_timeout=idle_timeout,
            max_workers=int(env.get("MYTRACK_SERVICE_THREADS") or 512),
            heartbeat_timeout=float(env.get("MYTRACK_HEARTBEAT_TIMEOUT") or 30),
            stats_interval=_stats_interval(env.get("MYTRACK_STATS_INTERVAL")),
            alert_webhook=(env.get("MYTRACK_ALERT_WEBHOOK") or "").strip(),
            ui_port=_ui_port(env.get("MYTRACK_UI_PORT")),
            ui_host=ui_host(env.get("MYTRACK_UI_HOST")),
            gc_grace=_seconds("MYTRACK_GC_GRACE", env.get("MYTRACK_GC_GRACE")),
            sweep_pending_lease=_positive(env.get("MYTRACK_SWEEP_PENDING_LEASE"), 60.0,
                                          "MYTRACK_SWEEP_PENDING_LEASE"),
        )


def _stats_interval(text: str | None) -> float:
    """MYTRACK_STATS_INTERVAL: seconds (default 10); 0 (or less) turns sampling off."""
    if text is None or not text.strip():
        return 10.0
    try:
        return max(0.0, float(text))
    except ValueError:
        raise ValueError(f"MYTRACK_STATS_INTERVAL must be a number of seconds, got {text!r}") from None


def _seconds(name: str, text: str | None) -> float:
    """A number of seconds, at least 0 (default 0)."""
    if text is None or not text.strip():
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {text!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must be 0 or more seconds, got {text!r}")
    return value


def _positive(text: str | None, default: float, name: str) -> float:
    """A number of seconds greater than 0 (``default`` when unset)."""
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a number of seconds greater than 0, got {text!r}")
    return value


def _ui_port(text: str | None) -> int:
    """MYTRACK_UI_PORT: the web UI's port (default 6017); 0 turns the UI off."""
    if text is None or not text.strip():
        return 6017
    try:
        port = int(text)
    except ValueError:
        raise ValueError(f"MYTRACK_UI_PORT must be a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"MYTRACK_UI_PORT must be between 0 and 65535, got {port}")
    return port


def ui_host(text: str | None) -> str:
    """MYTRACK_UI_HOST: an IP address or a host name (default 127.0.0.1)."""
    host = (text or "").strip()
    if not host:
        return "127.0.0.1"
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise ValueError(f"MYTRACK_UI_HOST must be an IP address or a host name, got {text!r}")
    return host.lower()


def redact(uri: str) -> str:
    """``uri`` without its password, for logs and status output."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
