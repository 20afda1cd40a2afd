"""The console tee: a small process that forwards a program's output and captures its lines.

It reads the pipes or pseudo-terminals that fds 1 and 2 of the training
process point at and writes every chunk to the original stdout/stderr at once.
It also does the capture work: it turns the bytes into lines
(`mytrack_common.lines.LineAssembler`) and encodes them as serialized
`Output` messages (`frames`), sent back to the training process every 0.5 s
or per 1,000 lines, where they only need a sequence number
(`encode.output_payload_record`).

Why a process and not a thread: what a process wrote just before dying
(``os._exit`` in a preemption handler, a crash, ``kill -9``) is still in the
pipe; a reader thread dies with it and the line never reaches the terminal,
while the tee process forwards it. And per-line work in a thread of the
training process takes the GIL from the training loop: here it costs the
training process nothing.

The modules: `loop` (what a tee does), `frames` (what it sends back),
`server` (the tee server, which forks tees), ``__main__`` (the program,
``python -P -S -m mytrack_common.tee``) and `launch` (how the SDK and the
service start it; the only module that runs outside the tee). Only the
standard library is imported on the tee's side, and not this package's
parent's modules other than `mytrack_common.lines`: the tee's start is part
of ``init()``.

Where a tee comes from: a training process usually starts its own
(`launch.spawn`). But the service runs a tee server (`launch.start_server`)
listening on the home's ``tee.sock``, and a process that starts the service
(as the ranks of a job starting together do) passes it the six descriptors
instead (`launch.hand_over`, SCM_RIGHTS): the server forks a child, in a
session of its own, that serves them, a fraction of a millisecond of CPU
where starting an interpreter costs each of 64 ranks starting at once over
ten. The forked child runs the same loop as a started tee (and shows the
server's command line in ``ps``).

A tee process ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C or a scheduler's
SIGTERM goes to the whole process group: it must keep forwarding the
program's last words) and exits when every writer has closed the pipes; it
outlives the service that forked it. The server exits when the service does.
"""
