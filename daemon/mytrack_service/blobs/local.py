"""`LocalBlobStore`: content-addressed blobs in a folder.

A blob with digest ``d`` lives at ``<root>/<d[:2]>/<d[2:4]>/<d>``. Writes go
to a temporary file in the root (same file system) and are renamed into place,
so a reader never sees a partial blob and a crash leaves at most a temporary
file behind (named ``.tmp-*``, never listed).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from typing import BinaryIO

from mytrack_service.blobs.base import BlobError, BlobInfo, BlobNotFound, BlobStore

_BUFSIZE = 1 << 20  # 1 MiB
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TMP_PREFIX = ".tmp-"


def check_digest(digest: str) -> str:
    """Returns ``digest`` if it is 64 lowercase hex characters; ValueError otherwise."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


class LocalBlobStore(BlobStore):
    """Blobs under ``root``, created on first use."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({self.root!r})"

    def path(self, digest: str) -> str:
        """Where the blob ``digest`` is (or would be) stored."""
        check_digest(digest)
        return os.path.join(self.root, digest[:2], digest[2:4], digest)

    def put_file(self, path: str) -> tuple[str, int]:
        try:
            with open(path, "rb") as src:
                digest, size, tmp = _copy(src, self._ensure_root())
        except OSError as exc:
            raise BlobError(f"cannot store {path!r}: {exc}") from exc
        self._install(tmp, digest)
        return digest, size

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        try:
            fd, tmp = _create_temp(self._ensure_root())
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                _sync(out)
        except OSError as exc:
            raise BlobError(f"cannot store blob {digest}: {exc}") from exc
        self._install(tmp, digest)
        return digest

    def open(self, digest: str) -> BinaryIO:
        path = self.path(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None
        except OSError as exc:
            raise BlobError(f"cannot read blob {digest}: {exc}") from exc

    def get_to_file(self, digest: str, path: str) -> None:
        write_verified(self, digest, path)

    def exists(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def list(self) -> Iterator[str]:
        """Every stored digest, in ascending order."""
        for first in _subdirs(self.root):
            for second in _subdirs(os.path.join(self.root, first)):
                folder = os.path.join(self.root, first, second)
                for name in sorted(os.listdir(folder)):
                    if _DIGEST.fullmatch(name) and name.startswith(first + second):
                        yield name

    def stat(self, digest: str) -> BlobInfo | None:
        try:
            found = os.stat(self.path(digest))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BlobError(f"cannot look up blob {digest}: {exc}") from exc
        return BlobInfo(found.st_size, found.st_mtime)

    def delete(self, digest: str) -> bool:
        try:
            os.remove(self.path(digest))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise BlobError(f"cannot delete blob {digest}: {exc}") from exc
        return True

    def _ensure_root(self) -> str:
        os.makedirs(self.root, exist_ok=True)
        return self.root

    def _install(self, tmp: str, digest: str) -> None:
        """Renames ``tmp`` into place as blob ``digest``, unless it is there already."""
        target = self.path(digest)
        try:
            if os.path.isfile(target):  # identical content: keep the first copy
                _remove(tmp)
                return
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(tmp, target)
        except OSError as exc:
            _remove(tmp)
            raise BlobError(f"cannot store blob {digest}: {exc}") from exc


def _copy(src: BinaryIO, folder: str) -> tuple[str, int, str]:
    """Copies ``src`` to a new temporary file in ``folder``, hashing as it goes.

    Returns:
        (sha256 hex digest, size in bytes, temporary file path), flushed to disk.
    """
    fd, tmp = _create_temp(folder)
    hasher = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_BUFSIZE):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
            _sync(out)
    except BaseException:
        _remove(tmp)
        raise
    return hasher.hexdigest(), size, tmp


def _create_temp(folder: str) -> tuple[int, str]:
    # Not tempfile.mkstemp: its 0600 mode would outlive the rename, while a
    # restored file should get the user's usual permissions (0666 & ~umask).
    while True:
        path = os.path.join(folder, _TMP_PREFIX + secrets.token_hex(8))
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:
            continue


def _sync(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _subdirs(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if len(n) == 2 and os.path.isdir(os.path.join(folder, n)))


def write_verified(store: BlobStore, digest: str, path: str) -> None:
    """get_to_file on top of open(): a temp file beside ``path``, its sha256
    checked, then moved into place (shared by every BlobStore here)."""
    target = os.path.abspath(path)
    with store.open(digest) as src:
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            actual, _, tmp = _copy(src, os.path.dirname(target))
        except OSError as exc:
            raise BlobError(f"cannot write blob {digest} to {path!r}: {exc}") from exc
    if actual != digest:
        _remove(tmp)
        raise BlobError(f"blob {digest} is corrupt (its content hashes to {actual})")
    try:
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise BlobError(f"cannot write blob {digest} to {path!r}: {exc}") from exc
