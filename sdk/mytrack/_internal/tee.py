"""The tee process of descriptor-level console capture.

A tiny helper process (``python -I -S -c BOOTSTRAP``, standard library only,
its program passed compiled, a few milliseconds to start) reads the pipes or pseudo-terminals that fds 1
and 2 of the training process point at and writes every chunk to the
original stdout/stderr at once. It also does the capture work: it turns the
bytes into lines (`lines.LineAssembler`, its source included in HELPER) and
encodes them as serialized `Output` messages, sent back to the training
process every 0.5 s or per 1,000 lines, where they only need a sequence
number (`encode.output_payload_record`).

Why a process and not a thread: what a process wrote just before dying
(``os._exit`` in a preemption handler, a crash, ``kill -9``) is still in the
pipe; a reader thread dies with it and the line never reaches the terminal,
while the tee process forwards it. And per-line work in a thread of the
training process takes the GIL from the training loop: here it costs the
training process nothing.

The helper ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a scheduler's
SIGTERM goes to the whole process group: it must keep forwarding the
program's last words) and exits when every writer has closed the pipes.

Frames on the copy pipe: `FRAME` (kind, line count, length) then the
payload; kind `END` (no payload) answers a drain request written to the
control pipe (the partial lines are sent before it), after which the helper
only forwards.
"""

from __future__ import annotations

import functools
import marshal
import os
import struct

from mytrack._internal import lines

FRAME = struct.Struct("<BII")  # kind, lines, payload length
OUTPUT = 1  # payload: a serialized Output message
END = 255

# OutputLine fields (proto/mytrack.proto): timestamp = 1 (double), stream = 2,
# text = 3; Output.lines = 1. tests/unit/test_console_tee.py checks them
# against the generated classes.
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
import codecs, os, select, signal, struct, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
FRAME = struct.Struct("<BII")
out_r, err_r, orig_out, orig_err, copy_w, ctl_r = map(int, sys.argv[1:7])
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
