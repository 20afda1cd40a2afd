"""Chaos soak: one long run while the service is killed, frozen and (optionally) starved of disk.

    python scripts/chaos.py [--minutes 2] [--seed N] [--rate 5000] [--disk-full]

A writer process logs ``{"step_value": i}`` for i = 0, 1, 2, ... at about
``--rate`` steps a second for ``--minutes``. Meanwhile this script, at random
moments (a pause of 1-6 s between faults), does one of:

* ``kill9``: kill -9 of the service (the writer reconnects and starts another);
* ``kill9-starting``: kill -9 of the service, then kill -9 of the next one as soon as
  its pid appears, while it starts;
* ``stop``: SIGSTOP of the service for 0.5-5 s, then SIGCONT;
* ``disk-full`` (with ``--disk-full``, as root): the service home and the run folder
  live on a 256 MB tmpfs; a ballast file fills it for 1-4 s, then is deleted.

Then the writer finishes (its finish() waits for the service) and the run is read
back. It prints the steps logged, acknowledged (the writer's records the service
acked), readable (distinct step values in the stored history), lost
(acknowledged but not readable) and duplicated (rows beyond one per value, or a
repeated ``_step``), and exits 1 unless lost and duplicated are 0 and the
writer ended normally. Everything happens in a temporary service home, so a
service of your own is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [str(ROOT / part) for part in ("sdk", "daemon", "proto", "common")]

WRITER = """
    import json, os, sys, time
    import mytrack
    from mytrack_proto import mytrack_pb2 as pb

    minutes, rate = float(sys.argv[1]), float(sys.argv[2])
    run = mytrack.init(project="chaos", id=sys.argv[3],
                       settings=mytrack.Settings(console="off", finish_timeout=60.0))
    print(json.dumps({"path": run.path}), flush=True)
    chunk = max(1, int(rate / 100))  # calls per 10 ms
    end = time.monotonic() + minutes * 60
    logged = 0
    while time.monotonic() < end:
        for _ in range(chunk):
            run.log({"step_value": logged})
            logged += 1
        time.sleep(0.01)
    sender = run._sender
    # What the service acked: every call not still queued or in an unacked record.
    flushed = sender.flush(180.0)
    with sender._cond:
        pending = len(sender.queue) + sum(
            pb.Record.FromString(payload).log.count for _, payload in sender._unacked)
    run.finish()
    print(json.dumps({"logged": logged, "acknowledged": logged - pending, "flushed": flushed,
                      "waited": sender.stats.backpressure_seconds,
                      "reconnects": sender.stats.reconnects}), flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the run logs (default 2)")
    parser.add_argument("--rate", type=float, default=5000.0, help="steps logged per second (default 5000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--disk-full", action="store_true", help="add disk-full faults (root: a tmpfs)")
    args = parser.parse_args()
    sys.path[:0] = [s for s in SOURCES if s not in sys.path]  # this checkout's mytrack_common
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="mytrack-chaos-"))
    tmpfs = _mount_tmpfs(work / "disk") if args.disk_full else None
    base = tmpfs or work
    home = base / "home"
    env = {**os.environ, "MYTRACK_DIR": str(home), "MYTRACK_RUN_DIR": str(base / "runs"),
           "MYTRACK_SILENT": "true", "PYTHONPATH": os.pathsep.join(SOURCES)}
    (base / "runs").mkdir(parents=True, exist_ok=True)
    run_id = f"chaos{seed % 100000:05d}"
    print(f"chaos: seed {seed}, {args.minutes:g} min at ~{args.rate:g} steps/s, home {home}", flush=True)
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), str(args.minutes), str(args.rate), run_id],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=open(work / "writer.err", "w"), text=True,
    )
    assert writer.stdout is not None
    path = json.loads(writer.stdout.readline())["path"]
    faults: Counter[str] = Counter()
    try:
        _inject(rng, home, base if tmpfs else None, writer, faults, args.minutes * 60)
        out = writer.stdout.read()
        code = writer.wait(timeout=600)
        result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        readable, duplicated = _read_back(path, env)
    finally:
        if writer.poll() is None:
            writer.kill()
        _stop_service(env, home)
        if tmpfs is not None:
            subprocess.run(["umount", str(tmpfs)], check=False)
    return _report(result, readable, duplicated, faults, code, work)


def _inject(rng: random.Random, home: Path, disk: Path | None, writer: subprocess.Popen[str],
            faults: Counter[str], seconds: float) -> None:
    """Faults at random moments until the writer's logging time is over."""
    kinds = ["kill9", "kill9", "kill9-starting", "stop", "stop"] + (["disk-full"] if disk else [])
    end = time.monotonic() + seconds
    while time.monotonic() < end and writer.poll() is None:
        time.sleep(rng.uniform(1.0, 6.0))
        if time.monotonic() >= end:
            break
        kind = rng.choice(kinds)
        pid = _service_pid(home)
        if pid is None and kind != "disk-full":
            continue
        if kind == "kill9" and pid is not None:
            _signal(pid, signal.SIGKILL)
        elif kind == "kill9-starting" and pid is not None:
            _signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                new = _service_pid(home)
                if new is not None and new != pid:
                    time.sleep(rng.uniform(0.0, 0.3))
                    _signal(new, signal.SIGKILL)
                    break
                time.sleep(0.005)
        elif kind == "stop" and pid is not None:
            _signal(pid, signal.SIGSTOP)
            time.sleep(rng.uniform(0.5, 5.0))
            _signal(pid, signal.SIGCONT)
        elif kind == "disk-full" and disk is not None:
            _fill(disk / "ballast", rng.uniform(1.0, 4.0))
        faults[kind] += 1


def _service_pid(home: Path) -> int | None:
    """The running service's pid, from its pid file (None while none runs)."""
    from mytrack_common.address import service_address

    try:
        text = Path(service_address(str(home)).pid).read_text().strip()
        pid = int(text) if text else None
    except (OSError, ValueError):
        return None
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _mount_tmpfs(path: Path) -> Path | None:
    """A 256 MB tmpfs at ``path`` (root only); None, with a note, where it cannot be had."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        print("chaos: --disk-full needs root (a tmpfs); skipping disk-full faults", flush=True)
        return None
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"chaos: cannot mount a tmpfs ({done.stderr.strip()}); skipping disk-full faults", flush=True)
        return None
    return path


def _fill(ballast: Path, seconds: float) -> None:
    """Fills the file system holding ``ballast`` for ``seconds``, then frees it."""
    block = b"\0" * (1 << 20)
    try:
        with open(ballast, "wb") as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(block)
                    f.flush()
            time.sleep(seconds)
    finally:
        with contextlib.suppress(OSError):
            ballast.unlink()


def _read_back(path: str, env: dict[str, str]) -> tuple[list[int], int]:
    """The run's stored step values, in a fresh interpreter (this one never imported
    mytrack's settings), and how many rows repeat a value or a _step."""
    code = textwrap.dedent("""
        import json, sys, time
        import mytrack
        api = mytrack.Api()
        deadline = time.monotonic() + 120
        while api.run(sys.argv[1]).state == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = list(api.run(sys.argv[1]).scan_history(keys=["step_value"], page_size=100_000))
        print(json.dumps([[r.get("_step"), r.get("step_value")] for r in rows]))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", code, path], env=env, capture_output=True,
                              text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        print("chaos: reading the run back timed out", flush=True)
        return [], 0
    if done.returncode != 0:
        print(f"chaos: reading the run back failed:\n{done.stderr}", flush=True)
        return [], 0
    rows: list[list[Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    values = [v for _, v in rows if v is not None]
    steps = [s for s, _ in rows]
    duplicated = (len(values) - len(set(values))) + (len(steps) - len(set(steps)))
    return sorted(set(values)), duplicated


def _stop_service(env: dict[str, str], home: Path) -> None:
    """Stops the soak's service; kills it when it does not stop (a stuck one must not
    outlive the soak, nor keep a tmpfs busy)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-m", "mytrack_service", "stop", "--timeout", "30"], env=env,
                       capture_output=True, timeout=60, check=False)
    pid = _service_pid(home)
    if pid is not None:
        print(f"chaos: the service (pid {pid}) did not stop; killed", flush=True)
        _signal(pid, signal.SIGKILL)


def _report(result: dict[str, Any], readable: list[int], duplicated: int, faults: Counter[str],
            code: int, work: Path) -> int:
    logged = int(result.get("logged", 0))
    acknowledged = int(result.get("acknowledged", 0))
    wanted = set(range(acknowledged))
    lost = len(wanted - set(readable))
    print(f"chaos: faults {dict(sorted(faults.items()))}; the writer reconnected "
          f"{result.get('reconnects', '?')} times, log() waited {result.get('waited', 0):.1f}s")
    print(f"steps logged:       {logged}")
    print(f"steps acknowledged: {acknowledged}")
    print(f"steps readable:     {len(readable)}")
    print(f"steps lost:         {lost}")
    print(f"steps duplicated:   {duplicated}")
    ok = lost == 0 and duplicated == 0 and code == 0 and logged > 0
    if code != 0 or not result:
        print(f"chaos: the writer failed (exit {code}); its stderr is in {work / 'writer.err'}")
    print("chaos: OK" if ok else "chaos: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
