"""Patching TensorBoard writers so that each log directory they open reaches the run.

`patch()` replaces the event-file writer class that torch's ``SummaryWriter``
and tensorboardX's look up when they open a log directory (and TF2's
``create_summary_file_writer``, where TensorFlow is imported) with a subclass (a
wrapper) that reports the directory, as W&B does. The SDK only reports: the
service reads the event files into the run's history and saves them with it
(daemon: apply/tensorboard.py). At finish the writers are flushed first, so
what was logged before ``finish()`` is in the files when the service drains
them before it applies the exit.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mytrack._internal.transport import encode
from mytrack.errors import UsageError

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run

# (module, class attribute) of the writers patched, by flag of patch().
TORCH_WRITER = ("torch.utils.tensorboard.writer", "EventFileWriter")
TBX_WRITER = ("tensorboardX.writer", "EventFileWriter")
TF2_WRITER = ("tensorflow.python.ops.gen_summary_ops", "create_summary_file_writer")
EXTRA_HINT = "pip install 'mytrack[tensorboard]'"


@dataclass
class _State:
    root_logdir: str = ""
    save: bool = True
    originals: list[tuple[Any, str, Any]] = field(default_factory=list)  # (module, name, original)
    logdirs: dict[str, str] = field(default_factory=dict)  # log dir -> namespace, in order seen
    unreported: list[tuple[str, float]] = field(default_factory=list)  # seen before init()
    writers: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    owner: Run | None = None  # the run whose init(sync_tensorboard=True) patched


_lock = threading.Lock()
_state: _State | None = None


def require_tensorboard() -> None:
    """Raises UsageError naming the extra when the `tensorboard` package is missing."""
    try:
        importlib.import_module("tensorboard")  # its __init__ imports its parts lazily
    except ImportError:
        raise UsageError(f"sync_tensorboard needs the 'tensorboard' package: {EXTRA_HINT}") from None


def patch(root_logdir: str | None = None, pytorch: bool | None = None, tensorboard_x: bool | None = None,
          save: bool = True) -> None:
    """Patches TensorBoard's writers so what they write reaches the current run.

    Args:
        root_logdir: keys get the log directory's path below this folder as prefix
            (``root/train`` gives ``train/loss``); None: W&B's guess from the
            directories seen (their common parent; a single one named ``train`` or
            ``validation`` is a prefix, any other single one none).
        pytorch: patch ``torch.utils.tensorboard`` (None: if torch is installed).
        tensorboard_x: patch tensorboardX (None: if it is installed).
        save: save the event files with the run (under ``tensorboard/``).

    Raises:
        UsageError: already patched, or the `tensorboard` package is missing.
    """
    global _state
    require_tensorboard()
    with _lock:
        if _state is not None:
            raise UsageError("TensorBoard is already patched: call mytrack.tensorboard.unpatch() first")
        state = _State(root_logdir=os.path.abspath(root_logdir) if root_logdir else "", save=save)
        if pytorch is not False and _installed("torch"):
            _wrap_class(state, *TORCH_WRITER)
        if tensorboard_x is not False and _installed("tensorboardX"):
            _wrap_class(state, *TBX_WRITER)
        # TF2 only where TensorFlow is already imported: importing it costs seconds.
        if not pytorch and not tensorboard_x and "tensorflow" in sys.modules:
            _wrap_function(state, *TF2_WRITER)
        if not state.originals:
            raise UsageError("no TensorBoard writer to patch: install torch, tensorboardX or tensorflow")
        _state = state


def unpatch() -> None:
    """Puts the original writers back; a no-op when not patched."""
    global _state
    with _lock:
        state, _state = _state, None
    if state is not None:
        for module, name, original in reversed(state.originals):
            setattr(module, name, original)


def is_patched() -> bool:
    return _state is not None


def start(run: Run, sync: bool) -> None:
    """After init(): patches for ``sync_tensorboard=True`` and reports the log
    directories that writers opened before the run existed."""
    if run.disabled:
        return
    if sync and _state is None:
        patch()
        if _state is not None:
            _state.owner = run
    state = _state
    if state is None:
        return
    with _lock:
        waiting, state.unreported = state.unreported, []
    for logdir, since in waiting:
        _report(run, state, logdir, since)


def finishing(run: Run) -> None:
    """Before a run's exit record: its writers' buffers go to the files; the patch
    that its ``init(sync_tensorboard=True)`` made is undone, as W&B does."""
    state = _state
    if state is None:
        return
    for writer in list(state.writers):
        try:
            writer.flush()
        except Exception:  # noqa: BLE001 - a writer closed or broken: its files are as they are
            pass
    if state.owner is run:
        unpatch()


def namespace(logdir: str, root_logdir: str, seen: list[str]) -> str:
    """The key prefix of a log directory: its path below ``root_logdir``; without one,
    below the common parent of every directory seen (W&B's rule)."""
    if root_logdir:
        rel = os.path.relpath(logdir, root_logdir)
        return "" if rel == "." or rel.startswith("..") else rel.replace(os.sep, "/")
    dirs = [logdir, *seen]
    root = os.path.dirname(os.path.commonprefix(dirs))
    name = logdir.replace(root, "", 1).strip("/") if root else logdir.strip("/")
    if len(dirs) == 1 and name not in ("train", "validation"):
        return ""
    return name.replace(os.sep, "/")


def _opened(logdir: Any, writer: Any) -> None:
    """A patched writer opened ``logdir``."""
    state = _state
    if state is None or not isinstance(logdir, (str, os.PathLike)):
        return
    if writer is not None:
        state.writers.add(writer)
    path = os.path.abspath(os.fspath(logdir))
    since = time.time()
    run = _current()
    if run is None:
        with _lock:
            state.unreported.append((path, since))
        return
    _report(run, state, path, since)


def _report(run: Run, state: _State, logdir: str, since: float) -> None:
    with _lock:
        if logdir in state.logdirs:
            prefix = state.logdirs[logdir]
        else:
            prefix = namespace(logdir, state.root_logdir, list(state.logdirs))
            state.logdirs[logdir] = prefix
    try:
        run._enqueue(encode.tensorboard_record(logdir, prefix, since - 1.0, state.save), "TensorBoard sync")
    except UsageError:
        pass  # the run finished: a writer opened afterwards is not its


def _current() -> Run | None:
    run: Run | None = getattr(sys.modules.get("mytrack"), "run", None)
    return None if run is None or run.disabled else run


def _installed(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


def _wrap_class(state: _State, module_name: str, name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return
    original = getattr(module, name)

    class Reporting(original):  # type: ignore[misc, valid-type]
        """The writer, reporting its log directory to mytrack when it opens it."""

        def __init__(self, logdir: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(logdir, *args, **kwargs)
            _opened(logdir, self)

    Reporting.__name__ = Reporting.__qualname__ = original.__name__
    Reporting.__module__ = original.__module__
    state.originals.append((module, name, original))
    setattr(module, name, Reporting)


def _wrap_function(state: _State, module_name: str, name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return
    original = getattr(module, name)

    def create_summary_file_writer(*args: Any, **kwargs: Any) -> Any:
        logdir: Any = kwargs.get("logdir", args[1] if len(args) > 1 else None)
        result = original(*args, **kwargs)
        if hasattr(logdir, "numpy"):  # a tensor
            logdir = logdir.numpy().decode("utf-8")
        _opened(logdir, None)
        return result

    state.originals.append((module, name, original))
    setattr(module, name, create_summary_file_writer)
