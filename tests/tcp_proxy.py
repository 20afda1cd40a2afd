"""A TCP proxy the tests can cut and restore, to put a backend (S3) through an outage.

``CuttableProxy(host, port)`` listens on 127.0.0.1 on a free port and forwards each
connection to ``host:port``. ``cut("refuse")`` resets every open connection and every
new one at once (a backend that is down); ``cut("blackhole")`` resets the open ones and
accepts new ones without ever answering (a network that drops packets: the client
waits for its own timeout); ``restore()`` forwards again. Threads, no asyncio: it runs
beside any test. scripts/chaos.py imports it too, so it must not depend on pytest.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_MODES = ("pass", "refuse", "blackhole")


def _reset(sock: socket.socket, live: bool = False) -> None:
    """Closes with a RST (SO_LINGER 0), as a backend that died does.

    A ``live`` socket (one a pump thread may be blocked in recv() on) is shut down
    first: that wakes the recv, which close() does not, and until it returns the
    kernel keeps the socket, and the upstream connection behind it, open.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if live:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class CuttableProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.mode = "pass"
        self.refused = 0  # connections reset or held while cut
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # every socket of a live connection
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="cuttable-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self, mode: str = "refuse") -> None:
        if mode not in _MODES[1:]:
            raise ValueError(f"mode must be 'refuse' or 'blackhole', not {mode!r}")
        with self._lock:
            self.mode = mode
            live, self._open = self._open, set()
        for sock in live:
            _reset(sock, live=True)

    def restore(self) -> None:
        with self._lock:
            self.mode = "pass"
            held, self._open = self._open, set()
        for sock in held:  # black-holed connections: their clients retry on new ones
            _reset(sock, live=True)

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self.restore()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                mode = self.mode
                if mode == "blackhole":
                    self.refused += 1
                    self._open.add(client)  # accepted, never answered
                    continue
            if mode == "refuse":
                self.refused += 1
                _reset(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self.mode != "pass":
                _reset(client)
                upstream.close()
                return
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # cut, or the other side closed
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


@contextmanager
def cuttable_proxy(url: str) -> Iterator[CuttableProxy]:
    """A proxy to ``http://host:port`` for the ``with`` block."""
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    proxy = CuttableProxy(host, int(port))
    try:
        yield proxy
    finally:
        proxy.close()
