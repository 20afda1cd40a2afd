"""Chooses a `BlobStore` implementation by URI.

``file:///abs/path`` (or a plain path) is a `LocalBlobStore`;
``s3://bucket[/prefix]`` an `S3BlobStore` (any S3-compatible endpoint through
``AWS_ENDPOINT_URL``), whose driver, boto3, is imported only when asked for.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlsplit

from mytrack_service.blobs.base import BlobStore

VALID_SCHEMES = ("file", "s3")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def open_blobs(uri: str) -> BlobStore:
    """Opens the blob store that ``uri`` names.

    Args:
        uri: ``file:///abs/path``, ``file://localhost/abs/path``, a plain path, or
            ``s3://bucket[/prefix]``.

    Raises:
        ValueError: an unsupported scheme, a ``file`` URI naming another host, or a
            malformed ``s3`` URI.
        BlobError: the S3 store cannot be opened (boto3 missing, bucket refused).
    """
    from mytrack_service.blobs.local import LocalBlobStore

    if not _SCHEME.match(uri):
        return LocalBlobStore(uri)
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        from mytrack_service.blobs.s3 import S3BlobStore

        return S3BlobStore(uri)
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
