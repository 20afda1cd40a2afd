"""The blob store interface: content-addressed bytes (sha256 hex digests)."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


class BlobError(Exception):
    """A blob operation failed (the driver's exception is chained)."""


class BlobNotFound(BlobError):
    """No blob with that digest."""


@dataclass(frozen=True)
class BlobInfo:
    size: int
    modified: float  # epoch seconds of the last write


class BlobStore(abc.ABC):
    """put/get/exists/list by sha256 digest. Identical content is stored once."""

    @abc.abstractmethod
    def put_file(self, path: str) -> tuple[str, int]:
        """Stores the file's content, streaming it; returns (digest, size)."""

    @abc.abstractmethod
    def put_bytes(self, data: bytes) -> str:
        """Stores ``data``; returns its digest."""

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream of the blob; BlobNotFound if missing."""

    @abc.abstractmethod
    def get_to_file(self, digest: str, path: str) -> None:
        """Writes the blob to ``path`` (atomically), verifying the digest."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def list(self) -> Iterator[str]:
        """Every stored digest."""

    @abc.abstractmethod
    def stat(self, digest: str) -> BlobInfo | None:
        """The blob's size and when it was written; None if it is missing."""

    @abc.abstractmethod
    def delete(self, digest: str) -> bool:
        """Removes the blob; False if it was not there. Only the blob sweep
        (`mytrack_service.reclaim`) calls this, after checking that nothing
        references the digest."""
