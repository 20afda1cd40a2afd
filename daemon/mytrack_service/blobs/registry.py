"""Chooses a `BlobStore` implementation by URI.

``file:///abs/path`` (or a plain path) is a `LocalBlobStore`; that is the
only kind for now. S3-compatible storage (``s3://bucket/prefix``) will be
added here, its driver imported only when asked for.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlsplit

from mytrack_service.blobs.base import BlobStore

VALID_SCHEMES = ("file",)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def open_blobs(uri: str) -> BlobStore:
    """Opens the blob store that ``uri`` names.

    Args:
        uri: ``file:///abs/path``, ``file://localhost/abs/path`` or a plain path.

    Raises:
        ValueError: an unsupported scheme, or a ``file`` URI naming another host.
    """
    from mytrack_service.blobs.local import LocalBlobStore

    if not _SCHEME.match(uri):
        return LocalBlobStore(uri)
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise ValueError(
            f"unsupported blob store URI {parts.scheme}://...: the scheme must be one of "
            f"{', '.join(s + '://' for s in VALID_SCHEMES)} (or a plain path)"
        )
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file:// URI {uri!r} names host {parts.netloc!r}; use file:///abs/path")
    return LocalBlobStore(unquote(parts.path))


def default_blobs_uri(home: str) -> str:
    """The blob folder in the service home ``home``."""
    return "file://" + quote(f"{os.path.abspath(home)}/blobs")
