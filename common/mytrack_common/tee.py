"""The tee process of descriptor-level console capture.

A tiny helper process (standard library only, its program passed compiled)
reads the pipes or pseudo-terminals that fds 1 and 2 of the training process
point at and writes every chunk to the original stdout/stderr at once. It
also does the capture work: it turns the bytes into lines
(`lines.LineAssembler`, its source included in the program) and encodes them
as serialized `Output` messages, sent back to the training process every
0.5 s or per 1,000 lines, where they only need a sequence number
(`encode.output_payload_record`).

Why a process and not a thread: what a process wrote just before dying
(``os._exit`` in a preemption handler, a crash, ``kill -9``) is still in the
pipe; a reader thread dies with it and the line never reaches the terminal,
while the tee process forwards it. And per-line work in a thread of the
training process takes the GIL from the training loop: here it costs the
training process nothing.

Where it comes from: a training process usually starts its own (``python -I
-S -c BOOTSTRAP fds... program``). But the service runs a tee server
(`start_server`; the same program, ``serve`` mode) listening on the home's
``tee.sock``, and a process that starts the service (as the ranks of a job
starting together do) passes it the six descriptors instead (`hand_over`,
SCM_RIGHTS): the server forks a child, in a session of its own, that serves
them, a fraction of a millisecond of CPU where starting an interpreter costs
each of 64 ranks starting at once over ten. The forked child continues the
program past ``serve`` exactly as a started tee runs it.

A tee process ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a scheduler's
SIGTERM goes to the whole process group: it must keep forwarding the
program's last words) and exits when every writer has closed the pipes; it
outlives the service that forked it. The server exits when the service does.

Frames on the copy pipe: `FRAME` (kind, line count, length) then the
payload; kind `END` (no payload) answers a drain request written to the
control pipe (the partial lines are sent before it), after which the tee
only forwards.
"""
from __future__ import annotations

import functools
import marshal
import os
import socket
import struct
import subprocess
import sys

from mytrack_common import lines

FRAME = struct.Struct("<BII")  # kind, lines, payload length
OUTPUT = 1  # payload: a serialized Output message
END = 255

# OutputLine fields (proto/mytrack.proto): timestamp = 1 (double), stream = 2,
# text = 3; Output.lines = 1. tests/unit/test_console_tee.py checks them
# against the generated classes. Its `_varint` repeats encode.py's on purpose:
# this program runs in a ``-I -S`` interpreter on the standard library alone.
ENCODER = r'''
import struct as _struct

_DOUBLE = _struct.Struct("<d")
_STREAMS = {"stdout": b"\x12\x06stdout", "stderr": b"\x12\x06stderr"}


def _varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_lines(batch):
    """A serialized Output message holding ``batch`` [(timestamp, stream, text)]."""
    parts = []
    for timestamp, stream, text in batch:
        data = text.encode("utf-8", "replace")
        body = b"".join((b"\x09", _DOUBLE.pack(timestamp), _STREAMS[stream], b"\x1a",
                         _varint(len(data)), data))
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(parts)
'''

LOOP = r'''
import codecs, os, select, signal, socket, struct, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
FRAME = struct.Struct("<BII")


def serve(listen_fd, watch_fd):
    # Tee processes for the service's clients: each connection passes the six
    # descriptors of a tee (SCM_RIGHTS); a forked child answers its pid and
    # returns them, to run the loop below. Forking this small single-threaded
    # process costs a fraction of a millisecond where starting an interpreter
    # costs over ten. The server itself never returns.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(fileno=listen_fd)
    while True:
        ready, _, _ = select.select([server, watch_fd], [], [])
        if watch_fd in ready:
            os._exit(0)  # the service is gone (its end of the pipe closed)
        try:
            conn, _ = server.accept()
        except OSError:
            continue
        fds, child = [], False
        try:
            conn.settimeout(5.0)
            _, fds, _, _ = socket.recv_fds(conn, 16, 6)
            child = len(fds) == 6 and os.fork() == 0
        except OSError:
            pass
        if child:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.setsid()
                server.close()
                os.close(watch_fd)
                conn.sendall(str(os.getpid()).encode())
                conn.close()
            except OSError:  # the client gave up waiting: it serves its pipes itself
                os._exit(0)
            return fds
        for fd in fds:
            os.close(fd)
        conn.close()


if sys.argv[1] == "serve":
    fds = serve(int(sys.argv[2]), int(sys.argv[3]))
else:
    fds = map(int, sys.argv[1:7])
out_r, err_r, orig_out, orig_err, copy_w, ctl_r = fds
reads = {out_r: (0, orig_out), err_r: (1, orig_err)}
for fd in reads:
    os.set_blocking(fd, False)
assemblers = (LineAssembler("stdout"), LineAssembler("stderr"))
decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
found, copying, sent_at = [], True, time.monotonic()

def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
        except OSError:
            return False
    return True

def send():
    global found, copying, sent_at
    sent_at = time.monotonic()
    while found and copying:
        count, size = 0, 0
        while count < len(found) and count < 1000 and size < (1 << 20):
            size += len(found[count][2])
            count += 1
        payload = encode_lines(found[:count])
        del found[:count]
        if not write_all(copy_w, FRAME.pack(1, count, len(payload)) + payload):
            copying = False  # the training process is gone: only forward
    found = []

def pump(fd):
    index, original = reads[fd]
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return 0
    except OSError:  # EIO: a pseudo-terminal whose writers all closed
        data = b""
    if not data:
        del reads[fd]
        poller.unregister(fd)
        return 0
    write_all(original, data)
    if copying:
        assemblers[index].feed(decoders[index].decode(data), time.time(), found)
    return len(data)

poller = select.poll()
for fd in (*reads, ctl_r):
    poller.register(fd, select.POLLIN)
while reads:
    wait = None if not found else max(0, int((sent_at + 0.5 - time.monotonic()) * 1000))
    for fd, _ in poller.poll(wait):
        if fd == ctl_r:
            request = os.read(ctl_r, 64)
            poller.unregister(ctl_r)
            if request and copying:  # drain: what was written so far, partial lines, END
                for fd2 in list(reads):
                    while pump(fd2):
                        pass
                for assembler in assemblers:
                    assembler.finish(time.time(), found)
                send()
                if copying:
                    write_all(copy_w, FRAME.pack(255, 0, 0))
            copying = False
            found = []
            os.close(copy_w)
        elif fd in reads:
            pump(fd)
    if found and (len(found) >= 1000 or time.monotonic() - sent_at >= 0.5):
        send()
'''


def helper_source() -> str:
    """The tee program: the line assembler's source, the encoder, the loop."""
    with open(os.path.splitext(lines.__file__)[0] + ".py", encoding="utf-8") as source:
        return source.read() + ENCODER + LOOP


# The helper's command line runs this, with the compiled program as the last
# argument: compiling the program's source costs the helper about as much CPU
# as starting the interpreter (64 ranks start 64 helpers at once).
BOOTSTRAP = "import marshal, sys; exec(marshal.loads(bytes.fromhex(sys.argv.pop())))"


@functools.cache
def helper_code() -> str:
    """`helper_source` compiled and marshalled (hex), for `BOOTSTRAP`.

    The helper is ``sys.executable``, the interpreter running this, so the
    marshal format is its own.
    """
    return marshal.dumps(compile(helper_source(), "<mytrack-tee>", "exec")).hex()


def start_server(listen: socket.socket) -> tuple[subprocess.Popen[bytes], int]:
    """Starts the tee server on ``listen`` (a listening unix socket).

    Returns the process and the write end of its watch pipe: the server exits
    when that end closes (the service stopped or died).
    """
    watch_r, watch_w = os.pipe()
    fds = (listen.fileno(), watch_r)
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", BOOTSTRAP, "serve", *map(str, fds), helper_code()],
            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except BaseException:
        os.close(watch_w)
        raise
    finally:
        os.close(watch_r)
    return process, watch_w


def hand_over(path: str, fds: tuple[int, ...], timeout: float = 10.0) -> int | None:
    """Passes `tee`'s six descriptors to the server at ``path``; the tee's pid, or None.

    None: no server answered (and nothing reads the descriptors); the caller
    starts its own tee process.
    """
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
        socket.send_fds(conn, [b"tee"], list(fds))
        answer = conn.recv(32)
        return int(answer) if answer.isdigit() else None
    except (OSError, ValueError):
        return None
    finally:
        conn.close()
