"""The web UI's HTTP server: 127.0.0.1 unless asked otherwise, a token as Jupyter does it.

Each service makes a random token (kept in ``MYTRACK_DIR/web.token``, 0600, and
given by the Status RPC). A request carrying it (``?token=``, or the
``X-Mytrack-Token`` header that the pages' scripts send) is let in, and
``?token=`` also sets an HttpOnly, SameSite=Strict cookie that keeps it; any
other request gets 401. Requests that change something (POST) must
moreover come from a page of this server: their Origin must be the Host they
are sent to, and that Host a loopback name (DNS rebinding, other sites); when
the UI is bound beyond loopback (MYTRACK_UI_HOST), also an IP address, the bound
host or this machine's own name, never another DNS name.
Static assets (scripts, styles; no data) need no token, so that a page framed
by Jupyter, where the cookie may not be sent, still loads them.

The server runs in one background thread with a thread per connection
(`ThreadingHTTPServer`); handlers read the store directly.
"""

from __future__ import annotations

import errno
import functools
import hmac
import http.cookies
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mytrack_service.blobs.base import BlobStore
from mytrack_service.ingest.live_runs import LiveRuns
from mytrack_service.reclaim.runs import RunAdmin
from mytrack_service.store.base import StoreError
from mytrack_service.sweeps.controller import SweepController
from mytrack_service.web import pages
from mytrack_service.web.api import WebApi
from mytrack_service.web.responses import ApiError, Response, error_response

logger = logging.getLogger("mytrack_service.web")

TOKEN_FILE = "web.token"
_MAX_BODY = 1 << 20
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WILDCARD = ("0.0.0.0", "::")
_PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)


class WebServer:
    """The UI's listener and thread. ``base`` is empty until started (or when off)."""

    def __init__(
        self, live_runs: LiveRuns, blobs: BlobStore, home: str, port: int,
        admin: RunAdmin | None = None, host: str = "127.0.0.1", sweeps: SweepController | None = None,
    ) -> None:
        self.live_runs = live_runs
        self.api = WebApi(live_runs, blobs, admin, sweeps)
        self.home = home
        self.port = port
        self.host = host
        # Stable per home (web.token, 0600): a run.url in an old log still opens after
        # a restart. `mytrack ui --rotate-token` rewrites the file; current_token() sees it.
        self.token = ""
        self._token_stamp: tuple[int, int] | None = None
        self.base = ""
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def cookie_name(self) -> str:
        # Cookies are not per port: name them per port, so two services' UIs
        # on one machine do not overwrite each other's cookie.
        return f"mytrack_token_{self.port}"

    def start(self) -> bool:
        """Binds (the configured port, else a free one) and serves; False when off or failed."""
        if self.port == 0:
            return False
        try:
            self._httpd = _bind(self.host, self.port, self)
        except OSError as exc:
            logger.warning("web UI not started: cannot listen on %s: %s", self.host, exc)
            return False
        self.port = int(self._httpd.server_address[1])
        self.base = base_address(self.host, self.port)
        if not is_loopback(self.host):
            logger.warning("web UI listening on %s beyond loopback: the token is its only "
                           "protection", _netloc(self.host, self.port))
        self.current_token()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.5},
            name="mytrack-web", daemon=True,
        )
        self._thread.start()
        logger.info("web UI on %s", self.base)
        return True

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None  # the token file stays: the next service serves the same links

    def current_token(self) -> str:
        """The home's token: read again when web.token changed, made when it is missing
        or unusable (too short, or readable by others)."""
        path = os.path.join(self.home, TOKEN_FILE)
        try:
            found = os.stat(path)
            stamp = (found.st_mtime_ns, found.st_ino)
            if stamp == self._token_stamp:
                return self.token
            with open(path, encoding="ascii") as f:
                token = f.read().strip()
            if len(token) >= 16 and not found.st_mode & 0o077 and token.isascii():
                self.token, self._token_stamp = token, stamp
                return token
        except (OSError, ValueError):
            pass
        self.token = write_token(self.home)
        found = os.stat(path)
        self._token_stamp = (found.st_mtime_ns, found.st_ino)
        return self.token

    def postable_host(self, name: str | None) -> bool:
        """A Host a POST may be addressed to: a loopback name; beyond loopback also an IP
        address, the bound host and this machine's names (no other DNS name: rebinding)."""
        name = (name or "").lower()
        if name in _LOOPBACK:
            return True
        if is_loopback(self.host):
            return False
        if name == self.host:
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in _own_names()

    def valid(self, candidate: str | None) -> bool:
        token = self.current_token()
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), token.encode())


def write_token(home: str) -> str:
    """A new token in ``home``/web.token (owner-only, replaced atomically); returns it."""
    token = secrets.token_urlsafe(24)
    tmp = os.path.join(home, f".{TOKEN_FILE}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, f"{token}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, os.path.join(home, TOKEN_FILE))
    return token


@functools.cache
def _own_names() -> tuple[str, ...]:
    """This machine's names (looked up once: getfqdn may ask DNS)."""
    return (socket.gethostname().lower(), socket.getfqdn().lower())


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in _LOOPBACK


def base_address(host: str, port: int) -> str:
    """The UI's address for links: a wildcard bind (every interface) is linked by
    loopback, which always reaches it from this machine."""
    if host in _WILDCARD:
        return f"http://127.0.0.1:{port}"
    return f"http://{_netloc(host, port)}"


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: WebServer


class _Server6(_Server):
    address_family = socket.AF_INET6


def _bind(host: str, port: int, app: WebServer) -> _Server:
    kind = _Server6 if ":" in host else _Server
    try:
        server = kind((host, port), _Handler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        logger.info("port %d is taken: the web UI takes a free one", port)
        server = kind((host, 0), _Handler)
    server.app = app
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mytrack"
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s " + format, self.address_string(), *args)

    def _handle(self, method: str) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if method == "GET" and len(parts) == 2 and parts[0] == "static":
            return self._static(parts[1])
        if method == "GET" and parts == ["favicon.ico"]:
            return self._send(Response(status=204, content_type="image/x-icon"))
        from_query = app.valid(query.get("token"))
        if not (from_query or app.valid(self._presented_token())):
            return self._refuse(parts)
        query.pop("token", None)
        cookie = from_query and method == "GET"
        app.live_runs.touch()  # someone looks: keep the service up
        try:
            if parts[:1] == ["api"]:
                response = self._api(method, parts[1:], query)
            else:
                response = self._page(method, parts, app.token)
        except ApiError as exc:
            response = error_response(exc.status, str(exc))
        except StoreError as exc:
            logger.warning("web: store error: %s", exc)
            response = error_response(503, f"the store failed: {exc}")
        except Exception:  # noqa: BLE001 - one bad request must not kill the connection silently
            logger.exception("web: %s %s failed", method, url.path)
            response = error_response(500, "internal error (see the service log)")
        self._send(response, cookie)

    def _api(self, method: str, parts: list[str], query: dict[str, str]) -> Response:
        body: Any = None
        if method == "POST":
            if not self._same_origin():
                raise ApiError(403, "cross-origin request refused: use the UI's own pages")
            body = self._json_body()
        return self.server.app.api.route(method, parts, query, body)

    def _page(self, method: str, parts: list[str], token: str) -> Response:
        page = pages.route(parts) if method == "GET" else None
        if page is None:
            raise ApiError(404, "no such page")
        return Response(content_type="text/html; charset=utf-8", body=pages.render(page, token),
                        headers={"Content-Security-Policy": _PAGE_CSP})

    def _presented_token(self) -> str | None:
        header = self.headers.get("X-Mytrack-Token")
        if header:
            return header
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("token", "bearer") and value:
            return value.strip()
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            return None
        morsel = jar.get(self.server.app.cookie_name)
        return None if morsel is None else morsel.value

    def _same_origin(self) -> bool:
        """The request comes from a page of this server (Origin, else Referer, is the Host)."""
        host = (self.headers.get("Host") or "").lower()
        source = self.headers.get("Origin") or self.headers.get("Referer") or ""
        origin = urlsplit(source)
        if not host or origin.scheme != "http" or origin.netloc.lower() != host:
            return False
        return self.server.app.postable_host(urlsplit(f"//{host}").hostname)

    def _json_body(self) -> Any:
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            raise ApiError(415, "send JSON (Content-Type: application/json)")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "bad Content-Length") from None
        if length > _MAX_BODY:
            raise ApiError(413, "request body too large")
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            raise ApiError(400, f"the body is not JSON: {exc}") from None

    def _refuse(self, parts: list[str]) -> None:
        if parts[:1] == ["api"]:
            response = error_response(401, "a token is needed: open the URL `mytrack ui` prints")
        else:
            response = Response(status=401, content_type="text/html; charset=utf-8",
                                body=pages.UNAUTHORIZED)
        self._send(response)

    def _static(self, name: str) -> None:
        found = pages.static_file(name)
        if found is None:
            return self._send(error_response(404, "no such file"))
        path, content_type = found
        with open(path, "rb") as f:
            data = f.read()
        self._send(Response(content_type=content_type, body=data,
                            headers={"Cache-Control": "public, max-age=86400"}))

    def _send(self, response: Response, cookie: bool = False) -> None:
        app = self.server.app
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        length = len(response.body) if response.stream is None else response.length
        if length is None:
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")
        headers = {"Cache-Control": "no-store", **response.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if cookie:
            self.send_header("Set-Cookie", f"{app.cookie_name}={app.token}; Path=/; HttpOnly; "
                                           "SameSite=Strict")
        self.end_headers()
        try:
            if response.stream is None:
                self.wfile.write(response.body)
            else:
                for chunk in response.stream:
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # noqa: BLE001 - a stream failing half-way: the length is wrong now
            logger.exception("web: sending %s failed", self.path.split("?", 1)[0])
            self.close_connection = True
