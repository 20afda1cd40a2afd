"""`Media`: the base of every rich value ``log()`` accepts, and what it writes through.

A media value is turned into a JSON *descriptor* when it is logged, in the
caller's thread: the file (if the type has one) is written into the run's
``files/media/<kind>/`` folder through a `MediaWriter` and the history row
holds ``{"_type": ..., "path": ..., "sha256": ..., "size": ..., ...}``.
Validation happens there too, so an error names the key it was logged under.

This module imports nothing heavy: `mytrack._internal.run.values` checks
``isinstance(value, Media)`` on log()'s slow path.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Protocol

from mytrack.errors import InvalidValueError


class MediaWriter(Protocol):
    """Writes the files of one log() call (see `mytrack._internal.media.run_files.MediaBatch`)."""

    @property
    def step(self) -> int: ...

    def write(self, kind: str, key: str, ext: str, data: bytes) -> dict[str, Any]:
        """Stores ``data``; returns ``{"path", "sha256", "size"}`` (path relative to files/)."""
        ...

    def convert(self, value: Any, name: str) -> Any:
        """A JSON-ready copy of ``value`` (media inside become descriptors)."""
        ...


class Media:
    """A value that becomes a descriptor (and usually a file) when logged."""

    # Folder under files/media/ for the type's files; "" for types stored inline.
    kind: ClassVar[str] = ""
    # The descriptor's "_type".
    type_name: ClassVar[str] = ""

    @property
    def needs_files(self) -> bool:
        """Whether logging this value writes a file (then it needs a run's log())."""
        return bool(self.kind)

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        """Validates, writes the file through ``sink`` and returns the descriptor.

        Raises:
            InvalidValueError: the data does not have the expected form (the
                message names ``key``).
        """
        raise NotImplementedError

    def _file_descriptor(
        self, sink: MediaWriter | None, key: str, ext: str, data: bytes, **fields: Any
    ) -> dict[str, Any]:
        if sink is None:
            raise InvalidValueError(f"key {key!r}: {type(self).__name__} needs a run to write its file")
        stored = sink.write(self.kind, key, ext, data)
        descriptor = {"_type": self.type_name, **stored}
        descriptor.update({k: v for k, v in fields.items() if v is not None})
        return descriptor

    def __repr__(self) -> str:
        return f"<mytrack.{type(self).__name__}>"


def bad(key: str, what: str, expected: str, got: Any) -> InvalidValueError:
    """The error for data of the wrong form: names the key and the expected form."""
    return InvalidValueError(f"key {key!r}: {what} expects {expected}, got {got}")


def check_caption(key: str, what: str, caption: Any) -> str | None:
    if caption is None or isinstance(caption, str):
        return caption
    raise bad(key, what, "a caption that is a string", type(caption).__name__)


def is_path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def read_path(key: str, what: str, path: Any) -> tuple[bytes, str]:
    """(content, lower-case extension without the dot) of a file given by path."""
    text = os.fspath(path)
    try:
        with open(text, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise bad(key, what, "a readable file", f"{text!r} ({exc.strerror or exc})") from None
    return data, extension(text)


def extension(name: str) -> str:
    base = os.path.basename(name).lower()
    for double in ("pts.json", "table.json"):
        if base.endswith("." + double):
            return double
    return os.path.splitext(base)[1].lstrip(".")


def to_numpy(data: Any) -> Any:
    """A NumPy array of ``data``; PyTorch/TensorFlow tensors are detached and copied to the CPU."""
    import numpy as np

    if hasattr(data, "detach") and hasattr(data, "cpu") and hasattr(data, "numpy"):
        data = data.detach().cpu().numpy()
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    return np.asarray(data)


def is_tensor(data: Any) -> bool:
    return hasattr(data, "detach") and hasattr(data, "cpu") and hasattr(data, "numpy")
