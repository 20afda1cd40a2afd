"""Sweep requests to the service (the Sweep RPC), errors as mytrack's sweep errors."""

from __future__ import annotations

from typing import Any

from mytrack._internal.transport import launcher
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.webui import web_address
from mytrack.errors import (
    InvalidValueError,
    ResumeError,
    RunNotFoundError,
    SweepConfigError,
    SweepError,
    SweepNotFoundError,
)
from mytrack.settings import Settings


class SweepService:
    """The controller in the service, one method per request."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, settings: Settings) -> SweepService:
        return cls(launcher.connect(settings.service_dir or "", timeout=settings.init_timeout or 30.0))

    def call(self, kind: str, request: dict[str, Any], timeout: float = 60.0) -> Any:
        try:
            return self.client.sweep_call(kind, request, timeout=timeout)
        except RunNotFoundError as exc:
            raise SweepNotFoundError(str(exc)) from None
        except ResumeError as exc:  # FAILED_PRECONDITION: a command the sweep's state refuses
            raise SweepError(str(exc)) from None
        except InvalidValueError as exc:
            if "invalid sweep configuration" in str(exc):
                raise SweepConfigError(str(exc)) from None
            raise SweepError(str(exc)) from None  # e.g. a search that cannot suggest a trial

    def page(self, entity: str, project: str, sweep_id: str) -> str | None:
        """The sweep's page on the web UI; None when the service serves none."""
        web = web_address(self.client)
        return None if web is None else web.page(entity, project, "sweeps", sweep_id)


def split_sweep_path(path: str, entity: str, project: str) -> tuple[str, str, str]:
    """``[entity/][project/]sweep_id`` -> (entity, project, sweep_id)."""
    parts = [part for part in str(path).strip().split("/") if part]
    if not parts or len(parts) > 3:
        raise SweepNotFoundError(f"a sweep is named [entity/][project/]sweep_id, got {path!r}")
    if len(parts) == 3:
        entity, project = parts[0], parts[1]
    elif len(parts) == 2:
        project = parts[0]
    return entity, project, parts[-1]
