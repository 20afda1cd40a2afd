"""``run.watch()`` / ``unwatch()``: PyTorch hooks that log histograms into the history.

* gradients: a hook on each parameter that requires grad; every
  ``log_freq``-th call of that hook (one per backward pass) logs
  ``gradients/<prefix><name>`` as a `Histogram`, with ``commit=False`` so it
  joins the row the training loop commits next;
* parameters: a forward hook on the model; every ``log_freq``-th forward
  pass logs ``parameters/<prefix><name>`` for every parameter;
* ``log_graph=True``: on the first forward pass, forward hooks record each
  module's input and output shapes; the graph (modules, their classes,
  parent, shapes and parameter counts) is logged once as ``graph_<index>``,
  a ``graph-file`` JSON file, and those hooks are removed.

The prefix is "" for the first model a run watches and ``graph_<index>.``
for the next ones (``idx`` sets the index). PyTorch is imported only here,
only when watch() is called. A hook that finds its run finished (or this
process a forked child) removes every hook of the run instead of raising
inside ``backward()``.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter
from mytrack._internal.media.histogram import Histogram
from mytrack.errors import InvalidValueError, PreInitError, UsageError

LOG_KINDS = ("gradients", "parameters", "all", None)
BINS = 64


class WatchPreInitError(PreInitError, ValueError):
    """``mytrack.watch()`` before ``mytrack.init()`` (a ValueError, as in W&B)."""


class Graph(Media):
    """A model's module graph, stored as ``media/graphs/<key>_<step>_<sha>.graph.json``."""

    kind = "graphs"
    type_name = "graph-file"

    def __init__(self, description: dict[str, Any]) -> None:
        self.description = description

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        content = json.dumps(self.description, separators=(",", ":")).encode()
        return self._file_descriptor(
            sink, key, "graph.json", content, nodes=len(self.description["nodes"]),
            parameters=self.description["parameters"],
        )


class _Watcher:
    """The hooks one run has put on its models."""

    def __init__(self, run: Any) -> None:
        self._run = weakref.ref(run)
        self._lock = threading.Lock()
        self.next_index = 0
        self.handles: dict[int, list[Any]] = {}  # id(model) -> hook handles

    def add(self, model: Any, index: int, log: str | None, log_freq: int, log_graph: bool, torch: Any) -> None:
        self.remove(model)  # watching a model again replaces its hooks
        prefix = f"graph_{index}." if index else ""
        handles: list[Any] = []
        if log in ("gradients", "all"):
            for name, param in model.named_parameters():
                if param.requires_grad:
                    hook = self._gradient_hook(f"gradients/{prefix}{name}", log_freq, torch)
                    handles.append(param.register_hook(hook))
        if log in ("parameters", "all"):
            handles.append(model.register_forward_hook(self._parameters_hook(prefix, log_freq, torch)))
        if log_graph:
            handles.extend(self._graph_hooks(model, index))
        with self._lock:
            self.handles[id(model)] = handles

    def remove(self, model: Any) -> None:
        with self._lock:
            handles = self.handles.pop(id(model), [])
        for handle in handles:
            handle.remove()

    def remove_all(self) -> None:
        with self._lock:
            every = [h for handles in self.handles.values() for h in handles]
            self.handles.clear()
        for handle in every:
            handle.remove()

    def _log(self, values: dict[str, Any]) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        run = self._run()
        if run is None:
            self.remove_all()
            return
        if values:
            try:
                run.log(values, commit=False)
            except UsageError:  # finished, or a forked child's copy: stop watching
                self.remove_all()

    def _gradient_hook(self, key: str, log_freq: int, torch: Any) -> Callable[[Any], None]:
        calls = [0]

        def hook(grad: Any) -> None:
            calls[0] += 1
            if calls[0] % log_freq == 0:
                self._log({key: tensor_histogram(grad, torch)})

        return hook

    def _parameters_hook(self, prefix: str, log_freq: int, torch: Any) -> Callable[..., None]:
        calls = [0]

        def hook(module: Any, inputs: Any, output: Any) -> None:
            calls[0] += 1
            if calls[0] % log_freq == 0:
                self._log({
                    f"parameters/{prefix}{name}": tensor_histogram(param, torch)
                    for name, param in module.named_parameters()
                })

        return hook

    def _graph_hooks(self, model: Any, index: int) -> list[Any]:
        shapes: dict[str, tuple[Any, Any]] = {}
        handles: list[Any] = []

        def record(name: str) -> Callable[..., None]:
            def hook(module: Any, inputs: Any, output: Any) -> None:
                shapes.setdefault(name, (_shapes(inputs), _shapes(output)))
            return hook

        for name, module in model.named_modules():
            if module is not model:
                handles.append(module.register_forward_hook(record(name)))

        def done(module: Any, inputs: Any, output: Any) -> None:
            shapes[""] = (_shapes(inputs), _shapes(output))
            for handle in handles:
                handle.remove()
            self._log({f"graph_{index}": Graph(describe(model, shapes))})

        handles.append(model.register_forward_hook(done))
        return handles


_WATCHERS: weakref.WeakKeyDictionary[Any, _Watcher] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def watch(
    run: Any, models: Any, criterion: Any = None, log: str | None = "gradients",
    log_freq: int = 1000, idx: int | None = None, log_graph: bool = False,
) -> None:
    """Hooks ``models`` (a torch.nn.Module or a sequence of them); see the module docstring.

    ``criterion`` is accepted for W&B compatibility and not used (as in W&B).

    Raises:
        ValueError: a model that is not a torch.nn.Module, an unknown ``log``,
            ``log_freq`` not a positive int, ``idx`` not a non-negative int.
    """
    torch = _torch()
    modules = _modules(models, torch)
    if log not in LOG_KINDS:
        raise InvalidValueError(f"watch() log must be 'gradients', 'parameters', 'all' or None, got {log!r}")
    if type(log_freq) is not int or log_freq < 1:
        raise InvalidValueError(f"watch() log_freq must be a positive int, got {log_freq!r}")
    if idx is not None and (type(idx) is not int or idx < 0):
        raise InvalidValueError(f"watch() idx must be a non-negative int, got {idx!r}")
    if run.disabled:
        return
    with _REGISTRY_LOCK:
        watcher = _WATCHERS.get(run)
        if watcher is None:
            watcher = _WATCHERS[run] = _Watcher(run)
        start = watcher.next_index if idx is None else idx
        watcher.next_index = max(watcher.next_index, start + len(modules))
    for offset, model in enumerate(modules):
        watcher.add(model, start + offset, log, log_freq, log_graph, torch)


def unwatch(run: Any, models: Any = None) -> None:
    """Removes the hooks of ``models`` (every watched model when None)."""
    with _REGISTRY_LOCK:
        watcher = _WATCHERS.get(run)
    if watcher is None:
        return
    if models is None:
        watcher.remove_all()
        return
    for model in models if isinstance(models, list | tuple) else [models]:
        watcher.remove(model)


def tensor_histogram(tensor: Any, torch: Any) -> Histogram | None:
    """A 64-bin histogram of a tensor's finite values (None when it has none)."""
    import numpy as np

    values = tensor.detach()
    if values.is_sparse:
        values = values.coalesce().values()
    values = values.reshape(-1)
    if not values.is_floating_point():
        values = values.float()
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        values = values[finite]
    if values.numel() == 0:
        return None
    values = values.float()
    low, high = values.min().item(), values.max().item()
    if low == high:  # np.histogram's range for a single value
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(values, bins=BINS, min=low, max=high).cpu().numpy()
    edges = np.linspace(low, high, BINS + 1)
    return Histogram(np_histogram=(np.rint(counts).astype(np.int64), edges))


def describe(model: Any, shapes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    """The module tree: name, class, parent, own parameter counts and shapes."""
    nodes = []
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        inputs, outputs = shapes.get(name, (None, None))
        nodes.append({
            "name": name, "class": type(module).__name__,
            "parent": None if not name else name.rpartition(".")[0],
            "parameters": sum(p.numel() for p in own),
            "trainable": sum(p.numel() for p in own if p.requires_grad),
            "input_shapes": inputs, "output_shapes": outputs,
        })
    return {
        "format": "mytrack/graph/v1", "model": type(model).__name__, "nodes": nodes,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def _shapes(value: Any) -> Any:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return list(value.shape)
    if isinstance(value, list | tuple):
        return [_shapes(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _shapes(v) for k, v in value.items()}
    return None


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _modules(models: Any, torch: Any) -> list[Any]:
    found = list(models) if isinstance(models, list | tuple) else [models]
    if torch is None:
        raise InvalidValueError(
            "watch() takes torch.nn.Module objects, and PyTorch is not installed: "
            "pip install 'mytrack[torch]'"
        )
    if not found:
        raise InvalidValueError("watch() needs at least one torch.nn.Module")
    for model in found:
        if not isinstance(model, torch.nn.Module):
            raise InvalidValueError(f"watch() takes torch.nn.Module objects, got {type(model).__name__}")
    return found
