"""Where the service's web UI is: its address and token, from the Status RPC.

`Run.url` and friends, `mytrack ui` and ``init()``'s line build page addresses
here. The token rides once in the address (``?token=...``), as Jupyter's does;
the UI then keeps it in a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.service_types import OpenedRun, ServiceStatus
from mytrack.errors import Error

_STATUS_TIMEOUT = 5.0


@dataclass(frozen=True)
class WebAddress:
    base: str  # "http://127.0.0.1:PORT"
    token: str  # "" when the UI asks for none

    def page(self, *segments: str) -> str:
        """The address of a page: ``base/seg/seg...?token=...``."""
        path = "/".join(quote(s, safe="") for s in segments)
        url = f"{self.base}/{path}" if path else f"{self.base}/"
        return f"{url}?token={quote(self.token, safe='')}" if self.token else url


def web_address(client: ServiceClient) -> WebAddress | None:
    """The UI of the service behind ``client``; None when it serves none or does not answer."""
    try:
        status = client.status(quick=True, timeout=_STATUS_TIMEOUT)
    except Error:
        return None
    return from_reply(status)


def from_reply(reply: ServiceStatus | OpenedRun) -> WebAddress | None:
    """The UI named in a Status or OpenRun reply; None when the service serves none."""
    if not reply.web_base:
        return None
    return WebAddress(base=reply.web_base.rstrip("/"), token=reply.web_token)
