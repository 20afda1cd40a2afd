"""The tee process of descriptor-level console capture.

A tiny helper process (``python -I -S -c HELPER``, standard library only, a
few milliseconds to start) reads the pipes or pseudo-terminals that fds 1
and 2 of the training process point at, writes every chunk to the original
stdout/stderr at once, and sends a copy back to the training process in
frames, batched every 50 ms (or 64 KiB) so that the training process wakes
a few times a second, not once per printed line.

Why a process and not a thread: what a process wrote just before dying
(``os._exit`` in a preemption handler, a crash, ``kill -9``) is still in the
pipe; a reader thread dies with it and the line never reaches the terminal,
while the tee process forwards it. And a thread reading each line of a
terminal takes the GIL from the training loop thousands of times a second.

The helper ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a scheduler's
SIGTERM goes to the whole process group: it must keep forwarding the
program's last words) and exits when every writer has closed the pipes.

Frames on the copy pipe: ``FRAME`` header (stream index, timestamp, length)
then the bytes; index `END` (no bytes) answers a drain request written to
the control pipe, after which the helper only forwards.
"""

from __future__ import annotations

import struct

FRAME = struct.Struct("<BdI")  # stream index (0 stdout, 1 stderr), time.time(), length
END = 255

HELPER = r"""
import os, select, signal, struct, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
FRAME = struct.Struct("<BdI")
out_r, err_r, orig_out, orig_err, copy_w, ctl_r = map(int, sys.argv[1:7])
reads = {out_r: (0, orig_out), err_r: (1, orig_err)}
for fd in reads:
    os.set_blocking(fd, False)
pending, size, copying, sent_at = [], 0, True, time.monotonic()

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
    global pending, size, copying, sent_at
    if pending and copying and not write_all(copy_w, b"".join(pending)):
        copying = False  # the training process is gone: only forward
    pending, size, sent_at = [], 0, time.monotonic()

def pump(fd):
    global size
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
        pending.append(FRAME.pack(index, time.time(), len(data)) + data)
        size += len(data)
    return len(data)

poller = select.poll()
for fd in (*reads, ctl_r):
    poller.register(fd, select.POLLIN)
while reads:
    wait = None if not pending else max(0, int((sent_at + 0.05 - time.monotonic()) * 1000))
    for fd, _ in poller.poll(wait):
        if fd == ctl_r:
            request = os.read(ctl_r, 64)
            poller.unregister(ctl_r)
            if request:  # drain: everything written so far, then END
                for fd2 in list(reads):
                    while pump(fd2):
                        pass
                send()
                if copying:
                    write_all(copy_w, FRAME.pack(255, time.time(), 0))
            copying = False
            os.close(copy_w)
        elif fd in reads:
            pump(fd)
    if pending and (size >= 65536 or time.monotonic() - sent_at >= 0.05):
        send()
"""
