"""``mytrack ui [--open] [--port N] [--rotate-token] [--print]``: the web UI, kept up.

Runs in the foreground, as ``mlflow ui`` and ``aim up`` do: it prints the
address (token included) and, until Ctrl-C, looks at the UI every
`_KEEPALIVE` seconds, which counts as use, so the service does not stop
for idleness; a service that went away is started again. The token is the
home's (``$MYTRACK_DIR/web.token``, owner-only), so links survive restarts;
``--rotate-token`` replaces it (old links stop working at once).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import urllib.request
from typing import Any

_KEEPALIVE = 30.0


def add_parser(commands: Any) -> None:
    ui = commands.add_parser("ui", help="serve the web UI in the foreground (prints its address)")
    ui.add_argument("--open", action="store_true", help="and open it in a browser")
    ui.add_argument("--port", type=int, help="the UI's port, for a service this starts (MYTRACK_UI_PORT)")
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
