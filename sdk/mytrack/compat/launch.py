"""``mytrack run [--] COMMAND...``: runs COMMAND with the W&B switch on in
every Python process it starts.

The switch travels as a start-up hook: this package's ``boot`` folder, holding
only a ``sitecustomize.py``, is put first on PYTHONPATH, which child processes
inherit (torchrun's and ``accelerate launch``'s workers too). The command then
replaces this process (exec), so its exit status and signals are its own.
"""

from __future__ import annotations

import os
import shutil
import sys

USAGE = "usage: mytrack run [--] COMMAND [ARG...]   (e.g. mytrack run python train.py --lr 0.1)"


def boot_dir() -> str:
    """The folder whose ``sitecustomize.py`` turns the switch on."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot")


def command_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` with the boot folder first on PYTHONPATH (once)."""
    env = dict(os.environ if environ is None else environ)
    # The SDK's own folder goes along, so a child interpreter that finds the boot
    # folder also finds mytrack (e.g. when it was not installed, only on PYTHONPATH).
    sdk_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != boot_dir()]
    if sdk_root not in parts:
        parts.append(sdk_root)
    env["PYTHONPATH"] = os.pathsep.join([boot_dir(), *parts])
    return env


def main(argv: list[str]) -> int:
    """Execs the command; returns only on a usage error or a missing program."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not argv else sys.stdout)
        return 2 if not argv else 0
    program = shutil.which(argv[0]) or (argv[0] if os.sep in argv[0] else None)
    if program is None:
        print(f"mytrack run: command not found: {argv[0]}", file=sys.stderr)
        return 127
    env = command_env()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(program, argv, env)
    except OSError as exc:
        print(f"mytrack run: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 126
    return 0  # not reached: exec replaced the process
