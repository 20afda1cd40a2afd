"""Lightning checkpoints as versions of a model artifact, as WandbLogger logs them.

Read from ``ModelCheckpoint``'s public attributes (``best_k_models``,
``best_model_path``, ``best_model_score``, ``last_model_path``,
``current_score``): each file not logged yet, or rewritten since, becomes a
version with aliases ``latest`` (and ``best`` for the best one) and metadata
``score``, ``original_filename`` and the callback's settings.
"""

from __future__ import annotations

import os
from typing import Any

import mytrack

# The ModelCheckpoint settings recorded with each version (those it has).
_SETTINGS = ("monitor", "mode", "save_last", "save_top_k", "save_weights_only")


class CheckpointLog:
    """The checkpoints logged so far (path -> mtime) and the callbacks to scan at the end."""

    def __init__(self, name: str | None, policy: str) -> None:
        self.name = name
        self.policy = policy
        self.logged: dict[str, float] = {}
        self.callbacks: dict[int, Any] = {}

    def remember(self, callback: Any) -> None:
        """Keeps ``callback`` (Lightning passes a weak proxy of it) to scan when training ends."""
        self.callbacks[id(callback)] = callback

    def log_remembered(self, run: mytrack.Run) -> None:
        for callback in self.callbacks.values():
            self.log_new(run, callback)

    def log_new(self, run: mytrack.Run, callback: Any) -> None:
        """Logs the callback's checkpoints that are new or rewritten since last time, oldest first."""
        best = getattr(callback, "best_model_path", "") or ""
        for _, path, score in _checkpoints(callback, self.logged):
            metadata = {
                "score": _number(score),
                "original_filename": os.path.basename(path),
                callback.__class__.__name__: {k: getattr(callback, k) for k in _SETTINGS if hasattr(callback, k)},
            }
            artifact = mytrack.Artifact(self.name or f"model-{run.id}", type="model", metadata=metadata)
            artifact.add_file(path, name="model.ckpt", policy=self.policy)
            run.log_artifact(artifact, aliases=["latest", "best"] if path == best else ["latest"])
            self.logged[path] = os.stat(path).st_mtime


def _checkpoints(callback: Any, logged: dict[str, float]) -> list[tuple[float, str, Any]]:
    """(mtime, path, score) of the callback's checkpoint files not logged at their current mtime."""
    found: dict[str, Any] = {}
    last = getattr(callback, "last_model_path", "")
    if last:
        found[last] = getattr(callback, "current_score", None)
    best = getattr(callback, "best_model_path", "")
    if best:
        found[best] = getattr(callback, "best_model_score", None)
    found.update(getattr(callback, "best_k_models", {}) or {})
    out = []
    for path, score in found.items():
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue  # removed since (a checkpoint that fell out of the top k)
        if path not in logged or logged[path] < mtime:
            out.append((mtime, path, score))
    return sorted(out, key=lambda item: (item[0], item[1]))


def _number(score: Any) -> Any:
    """A tensor score as a Python number (metadata is JSON)."""
    item = getattr(score, "item", None)
    return item() if callable(item) else score
