"""Run environment metadata, collected in the background at ``init()``.

What is recorded (one ``environment`` record; the service keeps it as the
run's metadata): Python version and executable, OS, hostname, user, command
line and entry point, working directory, git (remote without credentials,
commit, branch, root, dirty), CPU count, memory, NVIDIA GPUs (names, memory,
driver and CUDA versions, through NVML when ``nvidia-ml-py`` is installed)
and scheduler variables (SLURM, torchrun). Two files are written into the
run's files folder and saved with policy "now": ``requirements.txt`` (every
installed distribution, ``name==version``) and, when the git tree is dirty,
``diff.patch`` (``git diff HEAD``).

Secrets: unless ``Settings(x_redact_secrets=False)``, the values of options
and variables whose names look like secrets (``--password=...``,
``API_KEY=...``; `mytrack_common.secrets`) are recorded as ``"***"``, and the
metadata says so (``redact_secrets``), which the web UI honours for config.

Only the working directory and the start time are read in the caller's
thread (a few microseconds); everything else runs in a daemon thread, so
``init()`` is not slowed. ``finishing.finish`` waits for it a bounded time
(`settle`), so that even a short run has its metadata. Nothing here ever
raises into the program: a failed part is left out.
"""

from __future__ import annotations

import copy
import datetime
import functools
import getpass
import logging
import os
import platform
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mytrack._internal.transport import encode
from mytrack_common.secrets import redact_argv, redact_mapping

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run

logger = logging.getLogger("mytrack")

_GIT_TIMEOUT = 5.0
_SCHEDULER_VARS = (
    "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
    "MASTER_PORT", "TORCHELASTIC_RUN_ID",
)
_MB = 1024 * 1024

_threads: weakref.WeakKeyDictionary[Any, tuple[threading.Thread, threading.Event]] = (
    weakref.WeakKeyDictionary()
)
# Seconds after init() before the environment is collected (see _collect_and_send).
START_DELAY = 3.0


def collect_in_background(run: Run) -> None:
    """Starts collecting ``run``'s environment; the record is queued when done."""
    sender = run._sender
    if sender is None:
        return
    cwd, started = os.getcwd(), run.start_time
    # On by default; only an explicit False (setting or variable) records secrets.
    redact = getattr(getattr(run, "_settings", None), "x_redact_secrets", True) is not False
    now = threading.Event()
    thread = threading.Thread(
        target=_collect_and_send, args=(sender.enqueue, run.dir, cwd, started, now, redact),
        name="mytrack-environment", daemon=True,
    )
    _threads[run] = (thread, now)
    thread.start()


def settle(run: Run, timeout: float = 5.0) -> None:
    """Waits (at most ``timeout``) until ``run``'s environment record is queued."""
    started = _threads.pop(run, None)
    if started is not None:
        thread, now = started
        now.set()
        thread.join(timeout)


def _collect_and_send(
    emit: Callable[[encode.Control], None], files_dir: str, cwd: str, started: float,
    now: threading.Event, redact: bool = True,
) -> None:
    # Not at once: the git commands and the package list cost more CPU than
    # init() itself, and 64 ranks starting together would spend it while the
    # others are still in init(). finish() asks for it at once.
    now.wait(START_DELAY)
    try:
        metadata, files = collect(files_dir, cwd, started, redact=redact)
        emit(encode.environment_record(metadata))
        if files:
            emit(encode.files_record([(name, path, "now") for name, path in files]))
    except Exception:  # noqa: BLE001 - metadata is best effort, never an error
        logger.debug("mytrack: collecting the environment failed", exc_info=True)


def collect(
    files_dir: str, cwd: str, started: float, redact: bool = True
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The metadata, and the files written into ``files_dir``: [(name, path)].

    ``redact``: secret-looking values of the command line and variables as "***".
    """
    main = sys.modules.get("__main__")
    metadata: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "os": platform.platform(),
        "hostname": socket.gethostname(),
        "user": _user(),
        "program": _program(main),
        "argv": redact_argv(sys.argv) if redact else list(sys.argv),
        "cwd": cwd,
        "started_at": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
        "pid": os.getpid(),
    }
    metadata.update(_machine())
    files: list[tuple[str, str]] = []
    git = _git(cwd)
    if git:
        patch = git.pop("patch", b"")
        metadata["git"] = git
        if patch and files_dir:
            files.append(("diff.patch", _write(files_dir, "diff.patch", patch)))
    gpu = _gpus()
    if gpu:
        metadata["gpu"] = copy.deepcopy(gpu)
    scheduler = {k: v for k, v in os.environ.items()
                 if k.startswith("SLURM_") or k in _SCHEDULER_VARS}
    if scheduler:
        metadata["scheduler"] = dict(sorted((redact_mapping(scheduler) if redact else scheduler).items()))
    metadata["redact_secrets"] = redact
    packages = _packages()
    metadata["packages"] = len(packages)
    if packages and files_dir:
        text = "".join(f"{name}=={version}\n" for name, version in packages)
        files.append(("requirements.txt", _write(files_dir, "requirements.txt", text)))
    return metadata, files


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _program(main: Any) -> str:
    """The entry point: the script's path, ``-m module``, ``-c`` or an interactive session."""
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", "") not in ("", "__main__"):
        return f"-m {spec.name.removesuffix('.__main__')}"
    path = getattr(main, "__file__", None)
    if path:
        return os.path.abspath(str(path))
    if sys.argv and sys.argv[0] in ("-c", ""):
        return "-c" if sys.argv[0] == "-c" else "<interactive>"
    return sys.argv[0] if sys.argv else ""


def _machine() -> dict[str, Any]:
    out: dict[str, Any] = {"cpu_count": os.cpu_count() or 0}
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        out["cpu_count_physical"] = psutil.cpu_count(logical=False) or 0
        out["memory_total_mb"] = round(psutil.virtual_memory().total / _MB)
    except Exception:  # noqa: BLE001 - psutil can fail in odd containers
        pass
    return out


def _git(cwd: str) -> dict[str, Any]:
    """Remote, commit, branch, root and dirty of the repository around ``cwd``; {} if none."""
    root = _run_git(cwd, "rev-parse", "--show-toplevel")
    if root is None:
        return {}
    commit = _run_git(cwd, "rev-parse", "--verify", "-q", "HEAD")  # None before the first commit
    branch = _run_git(cwd, "symbolic-ref", "--short", "-q", "HEAD")  # None when detached
    remote = _run_git(cwd, "remote", "get-url", "origin")
    status = _run_git(cwd, "status", "--porcelain", "--untracked-files=no")
    info: dict[str, Any] = {
        "root": root.strip(),
        "commit": (commit or "").strip(),
        "branch": (branch or "").strip(),
        "remote": _without_credentials(remote.strip()) if remote else "",
        "dirty": bool(status and status.strip()),
    }
    if info["dirty"] and info["commit"]:
        patch = _run_git(cwd, "diff", "HEAD", "--no-ext-diff", "--binary", raw=True)
        info["patch"] = patch or b""
    return info


def _run_git(cwd: str, *args: str, raw: bool = False) -> Any:
    """Git's output (str, or bytes when ``raw``); None when it fails or is missing."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=_GIT_TIMEOUT, env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout if raw else result.stdout.decode("utf-8", "replace")


def _without_credentials(url: str) -> str:
    """``https://user:token@host/x`` -> ``https://host/x``; scp-style URLs are kept."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@functools.cache
def _gpus() -> dict[str, Any]:
    """NVIDIA GPUs through NVML; {} without nvidia-ml-py, a driver or a GPU.

    Read once per process (NVML's start is slow), like `_packages`.
    """
    if not _nvidia_driver_possible():
        return {}
    try:
        import pynvml  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return {}
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return {}
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            devices.append({
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "memory_total_mb": round(memory.total / _MB),
            })
        driver = pynvml.nvmlSystemGetDriverVersion()
        out: dict[str, Any] = {
            "count": len(devices), "devices": devices,
            "driver": driver.decode() if isinstance(driver, bytes) else str(driver),
        }
        try:
            cuda = int(pynvml.nvmlSystemGetCudaDriverVersion())  # e.g. 12040
            out["cuda_version"] = f"{cuda // 1000}.{cuda % 1000 // 10}"
        except pynvml.NVMLError:
            pass
        return out
    except pynvml.NVMLError:
        return {}
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


@functools.cache
def _nvidia_driver_possible() -> bool:
    """False on a Linux machine with no NVIDIA driver loaded (its /proc entry) and no
    WSL GPU device: there, NVML's import and failed start cost each rank 10-17 ms of CPU,
    which the 64 ranks of a job finishing together wait for."""
    if not sys.platform.startswith("linux"):
        return True
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/dxg")


def _packages() -> list[tuple[str, str]]:
    """Installed distributions (name, version), sorted by name, each once.

    Name and version come from the ``name-version.dist-info`` folder names
    where possible: parsing every METADATA file costs ~1 ms a package, time
    the training loop would lose to this thread through the GIL.
    """
    from importlib import metadata

    seen: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        folder = getattr(dist, "_path", None)
        stem = getattr(folder, "name", "")
        name, _, version = stem.removesuffix(".dist-info").partition("-")
        if not stem.endswith(".dist-info") or not version:
            try:  # an .egg-info folder (editable installs) or an odd one: parse it
                meta = dist.metadata
                name, version = meta["Name"], meta["Version"]
            except Exception:  # noqa: BLE001 - a broken metadata folder
                continue
        if name and name.lower() not in seen:
            seen[name.lower()] = (name, version)
    return [seen[key] for key in sorted(seen)]


def _write(folder: str, name: str, content: str | bytes) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as out:
        out.write(content.encode("utf-8") if isinstance(content, str) else content)
    return path
