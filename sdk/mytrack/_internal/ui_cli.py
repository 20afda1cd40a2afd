"""``mytrack ui [--open] [--port N] [--host H] [--rotate-token] [--print]``: the web UI, kept up.

Runs in the foreground, as ``mlflow ui`` and ``aim up`` do: it prints the
address (token included) and, until Ctrl-C, looks at the UI every
`_KEEPALIVE` seconds, which counts as use, so the service does not stop
for idleness; a service that went away is started again. The token is the
home's (``$MYTRACK_DIR/web.token``, owner-only), so links survive restarts;
``--rotate-token`` replaces it (old links stop working at once). ``--host``
binds the UI beyond loopback, only when asked, with a warning: the token is
then the only protection.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import socket
import sys
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

_KEEPALIVE = 30.0


def add_parser(commands: Any) -> None:
    ui = commands.add_parser("ui", help="serve the web UI in the foreground (prints its address)")
    ui.add_argument("--open", action="store_true", help="and open it in a browser")
    ui.add_argument("--port", type=int, help="the UI's port, for a service this starts (MYTRACK_UI_PORT)")
    ui.add_argument("--host", help="the address the UI listens on, for a service this starts "
                    "(MYTRACK_UI_HOST; default 127.0.0.1; 0.0.0.0: every interface)")
    ui.add_argument("--rotate-token", action="store_true",
                    help="replace the UI's token: addresses printed before stop working")
    ui.add_argument("--print", action="store_true", help="print the address and exit")


def run(args: argparse.Namespace) -> int:
    from mytrack._internal.transport import launcher, webui
    from mytrack.settings import Settings

    settings = Settings().resolve()
    home = settings.service_dir or ""
    if args.port is not None:
        if not 0 < args.port <= 65535:
            print(f"mytrack: error: --port must be 1-65535, got {args.port}", file=sys.stderr)
            return 2
        os.environ["MYTRACK_UI_PORT"] = str(args.port)  # read by a service started now
    host = None if args.host is None else args.host.strip().strip("[]")
    if host is not None:
        if not host or any(c in host for c in "/?#@ \t"):
            print(f"mytrack: error: --host must be an IP address or a host name, got {args.host!r}",
                  file=sys.stderr)
            return 2
        os.environ["MYTRACK_UI_HOST"] = host  # read by a service started now
    if args.rotate_token:
        _rotate_token(home)
    web = _address(launcher, webui, home, settings.init_timeout or 30.0)
    if web is None:
        print("mytrack: error: the service serves no web UI (is MYTRACK_UI_PORT 0?)", file=sys.stderr)
        return 1
    if args.port is not None and not web.base.endswith(f":{args.port}"):
        print(f"mytrack: the running service serves the UI on {web.base}; stop it "
              "(mytrack-service stop) to move it to another port", file=sys.stderr)
    url = web.page()
    print(url, flush=True)
    if host is not None and not _loopback(host):
        _beyond_loopback(web, host)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    if args.print:
        return 0
    print("serving the UI until Ctrl-C", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(_KEEPALIVE)
            if not _look(web):
                web = _address(launcher, webui, home, settings.init_timeout or 30.0) or web
                print(f"the service restarted: {web.page()}", flush=True)
    except KeyboardInterrupt:
        return 0


def _beyond_loopback(web: Any, host: str) -> None:
    """The warning, the other addresses the UI answers on, and a note when the running
    service does not listen on ``host`` (it was started without it)."""
    port = urlsplit(web.base).port or 0
    shown = f"[{host}]" if ":" in host else host
    print(f"mytrack: warning: the UI listens on {shown}:{port}, reachable from other machines. "
          "The token in its address is the only protection: whoever has it can read, change and "
          "delete every run, and plain HTTP carries it unencrypted. To look at a remote machine's "
          f"runs, an SSH tunnel keeps the UI on loopback: ssh -L {port}:127.0.0.1:{port} HOST",
          file=sys.stderr, flush=True)
    others = _interface_addresses(host) if host in ("0.0.0.0", "::") else [host]
    reachable = [a for a in others if _answers(a, port)]
    for address in reachable:
        netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        if f"//{netloc}" not in web.base:
            print(f"{web.page().replace(urlsplit(web.base).netloc, netloc, 1)}", flush=True)
    if others and not reachable:
        print(f"mytrack: the running service serves the UI on {web.base} only; stop it "
              f"(mytrack-service stop) and run this again to serve it on {host}",
              file=sys.stderr, flush=True)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _interface_addresses(wildcard: str) -> list[str]:
    """This machine's addresses beyond loopback (IPv4 for 0.0.0.0, both for ::)."""
    import psutil

    families = (socket.AF_INET,) if wildcard == "0.0.0.0" else (socket.AF_INET, socket.AF_INET6)
    found = []
    for addresses in psutil.net_if_addrs().values():
        for item in addresses:
            if item.family not in families or "%" in item.address:
                continue
            ip = ipaddress.ip_address(item.address)
            if not (ip.is_loopback or ip.is_link_local):
                found.append(item.address)
    return found


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def _address(launcher: Any, webui: Any, home: str, timeout: float) -> Any:
    client = launcher.connect(home, timeout=timeout)
    try:
        return webui.web_address(client)
    finally:
        client.close()


def _look(web: Any) -> bool:
    """One request to the UI (counts as use); False when it does not answer."""
    request = urllib.request.Request(f"{web.base}/api/projects",
                                     headers={"X-Mytrack-Token": web.token})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _rotate_token(home: str) -> None:
    """A new token in the home's web.token (0600, replaced atomically); a running service
    reads it at its next request."""
    from mytrack_common.address import service_address

    folder = service_address(home).home
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, "web.token")
    tmp = f"{path}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, f"{secrets.token_urlsafe(24)}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    print("the UI's token was replaced: addresses printed before no longer open", file=sys.stderr)
