"""The tee program: ``python -P -S -m mytrack_common.tee OUT_R ERR_R ORIG_OUT ORIG_ERR COPY_W CTL_R``.

Or ``... -m mytrack_common.tee serve LISTEN WATCH``: the tee server
(`server.serve`), whose forked children go on as tees. The arguments are
descriptor numbers the starter passed down (`launch`).
"""

from __future__ import annotations

import sys

# The starter's one path entry (launch.py), the folder holding mytrack_common,
# comes first on the path. Installed, that folder is site-packages, where a
# stray module named like a standard one (an old backport) must not shadow
# the standard library: the package is found already, so the entry goes last.
if sys.flags.no_site:
    sys.path.append(sys.path.pop(0))

import signal  # noqa: E402

from mytrack_common.tee.loop import Tee  # noqa: E402


def main(argv: list[str]) -> None:
    """Runs a tee (or the tee server, whose children run tees) on the descriptors in ``argv``."""
    # A Ctrl-C or a scheduler's SIGTERM goes to the whole process group: the
    # tee must keep forwarding the program's last words, and exits when every
    # writer has closed its pipes.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    if argv[:1] == ["serve"]:
        from mytrack_common.tee import server  # sockets: only the server needs them

        fds = server.serve(int(argv[1]), int(argv[2]))
    else:
        fds = tuple(int(arg) for arg in argv[:6])
    out_r, err_r, orig_out, orig_err, copy_w, ctl_r = fds
    Tee(out_r, err_r, orig_out, orig_err, copy_w, ctl_r).run()


if __name__ == "__main__":
    main(sys.argv[1:])
