"""Chaos soak: one long run while the service is killed, frozen, starved of disk and cut off
from its PostgreSQL store and S3 blob store.

    python scripts/chaos.py [--minutes 2] [--seed N] [--rate 5000] [--disk-full]
        [--store postgresql://...] [--blobs s3://bucket/prefix --s3-endpoint http://...]
        [--faults kill9,stop,...]

A writer process logs ``{"step_value": i}`` for i = 0, 1, 2, ... at about
``--rate`` steps a second for ``--minutes``; about twice a second it also saves a
file of random bytes (``run.save``), and every fourth file is logged as a new version
of the artifact ``chaos-data`` too, so the blob store is exercised. Meanwhile this
script, at random moments (a pause of 1-6 s between faults), does one fault after
another, in rounds that each go through every kind once in a random order:

* ``kill9``: kill -9 of the service (the writer reconnects and starts another);
* ``kill9-starting``: kill -9 of the service, then kill -9 of the next one as soon as
  its pid appears, while it starts;
* ``stop``: SIGSTOP of the service for 0.5-5 s, then SIGCONT;
* ``disk-full`` (with ``--disk-full``, as root): the service home and the run folder
  live on a 256 MB tmpfs; a ballast file fills it for 1-4 s, then is deleted;
* ``pg-refuse`` / ``pg-blackhole`` (with ``--store postgresql://...``): the service
  reaches PostgreSQL through a TCP proxy (tests/tcp_proxy.py) that this script cuts for
  1-5 s, resetting every connection (a server that is down) or accepting them and never
  answering (a network that drops packets), then restores;
* ``s3-refuse`` / ``s3-blackhole`` (with ``--blobs s3://...`` and ``--s3-endpoint``, or
  ``AWS_ENDPOINT_URL``): the same for the S3 endpoint.

``--faults`` picks some of these kinds (default: every kind the options allow).
Then the writer finishes (its finish() waits for the service) and the run is read
back. It prints the steps logged, acknowledged (the writer's records the service
acked), readable (distinct step values in the stored history), lost
(acknowledged but not readable) and duplicated (rows beyond one per value, or a
repeated ``_step``), then the files and artifact versions saved, readable
(downloaded through ``mytrack.Api()`` with their sha256 digests verified), lost and
duplicated, and exits 1 unless every lost and duplicated count is 0 and the writer
ended normally. The store given with ``--store`` is used as it is (the run gets an id
of its own); an S3 bucket that does not exist is created. Everything happens in a temporary service home, so a
service of your own is never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [str(ROOT / part) for part in ("sdk", "daemon", "proto", "common")]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for the proxy the fault tests use as well

from tests.tcp_proxy import CuttableProxy  # noqa: E402 - needs ROOT on sys.path

WRITER = """
    import hashlib, json, os, random, sys, time
    from pathlib import Path
    import mytrack
    from mytrack_proto import mytrack_pb2 as pb

    minutes, rate = float(sys.argv[1]), float(sys.argv[2])
    folder = Path(sys.argv[4])
    folder.mkdir(parents=True, exist_ok=True)
    sizes = random.Random(sys.argv[3])
    run = mytrack.init(project="chaos", id=sys.argv[3],
                       settings=mytrack.Settings(console="off", finish_timeout=60.0))
    print(json.dumps({"path": run.path}), flush=True)
    chunk = max(1, int(rate / 100))  # calls per 10 ms
    end = time.monotonic() + minutes * 60
    logged = 0
    files, artifacts = {}, []  # name -> sha256; the artifact versions' file sha256s
    next_blob = time.monotonic()
    while time.monotonic() < end:
        for _ in range(chunk):
            run.log({"step_value": logged})
            logged += 1
        if time.monotonic() >= next_blob:
            next_blob += 0.5
            name = f"blob-{len(files):04d}.bin"
            data = os.urandom(sizes.randint(1_000, 300_000))
            (folder / name).write_bytes(data)
            run.save(str(folder / name), base_path=str(folder), policy="now")
            files[name] = hashlib.sha256(data).hexdigest()
            if len(files) % 4 == 1:
                artifact = mytrack.Artifact("chaos-data", type="dataset")
                artifact.add_file(str(folder / name))
                run.log_artifact(artifact)
                artifacts.append(files[name])
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
                      "reconnects": sender.stats.reconnects,
                      "files": files, "artifacts": artifacts}), flush=True)
"""


FAULTS = ("kill9", "kill9-starting", "stop", "disk-full",
          "pg-refuse", "pg-blackhole", "s3-refuse", "s3-blackhole")
WEIGHTS = {"kill9": 2, "stop": 2}  # per round; every other kind once


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the run logs (default 2)")
    parser.add_argument("--rate", type=float, default=5000.0, help="steps logged per second (default 5000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    parser.add_argument("--disk-full", action="store_true", help="add disk-full faults (root: a tmpfs)")
    parser.add_argument("--store", default=None,
                        help="the service's store (MYTRACK_STORE); a postgresql:// one adds PostgreSQL outages")
    parser.add_argument("--blobs", default=None,
                        help="the service's blob store (MYTRACK_BLOBS); an s3:// one adds S3 outages")
    parser.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="the http(s) S3 endpoint for --blobs s3://... (default AWS_ENDPOINT_URL)")
    parser.add_argument("--faults", default=None,
                        help=f"comma-separated kinds to inject, of {', '.join(FAULTS)} (default: all that apply)")
    args = parser.parse_args()
    sys.path[:0] = [s for s in SOURCES if s not in sys.path]  # this checkout's mytrack_common
    store_is_pg = bool(args.store) and args.store.split(":", 1)[0].startswith("postgres")
    blobs_are_s3 = bool(args.blobs) and args.blobs.startswith("s3://")
    if blobs_are_s3 and not args.s3_endpoint:
        parser.error("--blobs s3://... needs --s3-endpoint (or AWS_ENDPOINT_URL): S3 outages are "
                     "made by a proxy in front of that endpoint")
    available = {"kill9", "kill9-starting", "stop"}
    available |= {"disk-full"} if args.disk_full else set()
    available |= {"pg-refuse", "pg-blackhole"} if store_is_pg else set()
    available |= {"s3-refuse", "s3-blackhole"} if blobs_are_s3 else set()
    kinds = available
    if args.faults is not None:
        kinds = {k.strip() for k in args.faults.split(",") if k.strip()}
        if not kinds or kinds - set(FAULTS):
            parser.error(f"--faults: unknown kinds {sorted(kinds - set(FAULTS))}; known: {', '.join(FAULTS)}")
        if kinds - available:
            parser.error(f"--faults: {', '.join(sorted(kinds - available))} need "
                         "--disk-full / --store postgresql://... / --blobs s3://...")
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="mytrack-chaos-"))
    tmpfs = _mount_tmpfs(work / "disk") if "disk-full" in kinds else None
    if tmpfs is None:
        kinds.discard("disk-full")
        if not kinds:
            print("chaos: no fault left to inject", flush=True)
            return 1
    base = tmpfs or work
    home = base / "home"
    env = {**os.environ, "MYTRACK_DIR": str(home), "MYTRACK_RUN_DIR": str(base / "runs"),
           "MYTRACK_SILENT": "true", "PYTHONPATH": os.pathsep.join(SOURCES)}
    (base / "runs").mkdir(parents=True, exist_ok=True)
    proxies: dict[str, CuttableProxy] = {}
    with contextlib.ExitStack() as stack:
        if args.store:
            env["MYTRACK_STORE"] = args.store
            if store_is_pg:
                proxies["pg"] = stack.enter_context(_proxied(args.store))
                env["MYTRACK_STORE"] = _through(args.store, proxies["pg"])
        if args.blobs:
            env["MYTRACK_BLOBS"] = args.blobs
            if blobs_are_s3:
                proxies["s3"] = stack.enter_context(_proxied(args.s3_endpoint))
                env["AWS_ENDPOINT_URL"] = proxies["s3"].url
        # An id of its own: the same seed may run again against the same store.
        run_id = f"chaos{seed % 100000:05d}-{secrets.token_hex(3)}"
        print(f"chaos: seed {seed}, {args.minutes:g} min at ~{args.rate:g} steps/s, "
              f"faults {', '.join(sorted(kinds))}, home {home}", flush=True)
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(args.minutes), str(args.rate), run_id,
             str(work / "saved")],
            cwd=work, env=env, stdout=subprocess.PIPE, stderr=open(work / "writer.err", "w"), text=True,
        )
        assert writer.stdout is not None
        faults: Counter[str] = Counter()
        result: dict[str, Any] = {}
        readable: list[int] = []
        duplicated = 0
        blobs: dict[str, int] = {}
        code = -1
        try:
            line = writer.stdout.readline()
            path = json.loads(line)["path"] if line.strip() else ""
            if path:
                rounds = _rounds(rng, sorted(kinds))
                _inject(rng, rounds, home, base if tmpfs else None, proxies, writer, faults,
                        args.minutes * 60)
            out = writer.stdout.read()
            code = writer.wait(timeout=600)
            result = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            if path:
                readable, duplicated, blobs = _read_back(path, env, result, work / "read-back")
        finally:
            if writer.poll() is None:
                writer.kill()
            for name, proxy in proxies.items():
                proxy.restore()
                print(f"chaos: the {name} proxy refused or held {proxy.refused} connections "
                      "during its outages", flush=True)
            _stop_service(env, home)
            if tmpfs is not None:
                subprocess.run(["umount", str(tmpfs)], check=False)
    return _report(result, readable, duplicated, blobs, faults, code, work)


def _proxied(url: str) -> contextlib.AbstractContextManager[CuttableProxy]:
    """A cuttable proxy to the host and port of ``url`` (PostgreSQL's 5432, http's 80,
    https's 443 by default)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme, 5432)
    return contextlib.closing(CuttableProxy(parts.hostname or "127.0.0.1", parts.port or default))


def _through(url: str, proxy: CuttableProxy) -> str:
    """``url`` with its host and port replaced by the proxy's (user and password kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user + '@' if user else ''}127.0.0.1:{proxy.port}"))


def _rounds(rng: random.Random, kinds: list[str]) -> Iterator[str]:
    """Fault kinds forever, in rounds that each hold every kind (kill9 and stop twice) in a
    random order, so that a short soak still meets each kind."""
    while True:
        round_ = [kind for kind in kinds for _ in range(WEIGHTS.get(kind, 1))]
        rng.shuffle(round_)
        yield from round_


def _inject(rng: random.Random, rounds: Iterator[str], home: Path, disk: Path | None,
            proxies: dict[str, CuttableProxy], writer: subprocess.Popen[str],
            faults: Counter[str], seconds: float) -> None:
    """Faults at random moments until the writer's logging time is over."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and writer.poll() is None:
        time.sleep(rng.uniform(1.0, 6.0))
        if time.monotonic() >= end:
            break
        kind = next(rounds)
        pid = _service_pid(home)
        if pid is None and kind.startswith(("kill9", "stop")):
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
        elif kind[:3] in ("pg-", "s3-"):
            proxy = proxies[kind[:2]]
            proxy.cut(kind[3:])
            try:
                time.sleep(rng.uniform(1.0, 5.0))
            finally:
                proxy.restore()
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


def _read_back(path: str, env: dict[str, str], result: dict[str, Any],
               folder: Path) -> tuple[list[int], int, dict[str, int]]:
    """The run's stored step values, in a fresh interpreter (this one never imported
    mytrack's settings), how many rows repeat a value or a _step, and the counts of
    files and artifact versions readable (downloaded, digests verified), lost and
    duplicated."""
    code = textwrap.dedent("""
        import hashlib, json, sys, time
        from pathlib import Path
        import mytrack
        from mytrack.errors import Error

        path, folder, expected = sys.argv[1], Path(sys.argv[2]), json.loads(sys.stdin.read())
        api = mytrack.Api()
        deadline = time.monotonic() + 120
        while api.run(path).state == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = list(api.run(path).scan_history(keys=["step_value"], page_size=100_000))

        def sha(file):
            return hashlib.sha256(file.read_bytes()).hexdigest()

        def stored():  # name -> file, once uploaded (a digest); artifact versions' sha256s
            run = api.run(path)
            files = {f.name: f for f in run.files() if f.digest}
            versions = []
            while True:
                try:
                    versions.append(api.artifact(
                        f"{run.entity}/{run.project}/chaos-data:v{len(versions)}"))
                except Error:
                    return files, versions

        # Blobs logged during an outage are uploaded once it is over: wait for them.
        deadline = time.monotonic() + 180
        files, versions = stored()
        while time.monotonic() < deadline and (
                set(expected["files"]) - set(files) or len(versions) < len(expected["artifacts"])):
            time.sleep(1.0)
            files, versions = stored()
        readable = 0
        for name, digest in expected["files"].items():
            if name in files:
                files[name].download(root=str(folder / "files"), replace=True).close()
                readable += sha(folder / "files" / name) == digest
        shas = []
        for i, version in enumerate(versions):
            root = Path(version.download(root=str(folder / f"v{i}")))
            shas += [sha(f) for f in sorted(root.rglob("*")) if f.is_file()]
        wanted = expected["artifacts"]
        print(json.dumps({"rows": [[r.get("_step"), r.get("step_value")] for r in rows],
                          "files_readable": readable,
                          "artifacts_readable": len(set(shas) & set(wanted)),
                          "artifacts_duplicated": len(shas) - len(set(shas)) + len(set(shas) - set(wanted))}))
    """)
    expected = {"files": result.get("files", {}), "artifacts": result.get("artifacts", [])}
    try:
        done = subprocess.run([sys.executable, "-c", code, path, str(folder)], env=env,
                              input=json.dumps(expected), capture_output=True, text=True,
                              timeout=900, check=False)
    except subprocess.TimeoutExpired:
        print("chaos: reading the run back timed out", flush=True)
        return [], 0, {}
    if done.returncode != 0:
        print(f"chaos: reading the run back failed:\n{done.stderr}", flush=True)
        return [], 0, {}
    back: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rows: list[list[Any]] = back["rows"]
    values = [v for _, v in rows if v is not None]
    steps = [s for s, _ in rows]
    duplicated = (len(values) - len(set(values))) + (len(steps) - len(set(steps)))
    blobs = {"files saved": len(expected["files"]), "files readable": int(back["files_readable"]),
             "artifacts logged": len(expected["artifacts"]),
             "artifacts readable": int(back["artifacts_readable"]),
             "artifacts duplicated": int(back["artifacts_duplicated"])}
    return sorted(set(values)), duplicated, blobs


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


def _report(result: dict[str, Any], readable: list[int], duplicated: int, blobs: dict[str, int],
            faults: Counter[str], code: int, work: Path) -> int:
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
    files_lost = blobs.get("files saved", 0) - blobs.get("files readable", 0)
    artifacts_lost = blobs.get("artifacts logged", 0) - blobs.get("artifacts readable", 0)
    print(f"files saved:          {blobs.get('files saved', 0)}")
    print(f"files readable:       {blobs.get('files readable', 0)}")
    print(f"files lost:           {files_lost}")
    print(f"artifacts logged:     {blobs.get('artifacts logged', 0)}")
    print(f"artifacts readable:   {blobs.get('artifacts readable', 0)}")
    print(f"artifacts lost:       {artifacts_lost}")
    print(f"artifacts duplicated: {blobs.get('artifacts duplicated', 0)}")
    ok = (lost == 0 and duplicated == 0 and code == 0 and logged > 0 and bool(blobs)
          and files_lost == 0 and artifacts_lost == 0 and blobs.get("artifacts duplicated", 0) == 0)
    if code != 0 or not result:
        print(f"chaos: the writer failed (exit {code}); its stderr is in {work / 'writer.err'}")
    print("chaos: OK" if ok else "chaos: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
