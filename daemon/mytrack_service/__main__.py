import os
import sys

if sys.argv[1:2] == ["--fork"]:
    # Started by init() in a session of its own (launcher.py): this process exits
    # at once, so its starter reaps it and the service is nobody's child. Forked
    # here, before any import, where the process has a single thread.
    del sys.argv[1]
    if os.fork() > 0:
        os._exit(0)

from mytrack_service.cli import main  # noqa: E402 - after the fork above

raise SystemExit(main())
