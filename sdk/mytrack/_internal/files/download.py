"""Fetching a run's saved file from the service, verified by its sha256."""

from __future__ import annotations

import os
from collections.abc import Iterator

from mytrack._internal.files.checked_download import DigestMismatch, write_verified
from mytrack._internal.files.saving import check_name
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.service_types import RunKey
from mytrack.errors import CommError


def download(client: ServiceClient, key: RunKey, name: str, root: str, replace: bool) -> str:
    """Writes file ``name`` of run ``key`` under ``root``; returns its path.

    An existing file is kept unless ``replace``. The content is written to a
    temporary file, checked against the stored digest, then moved into place.

    Raises:
        RunNotFoundError: no such run, or the run has no such (uploaded) file.
        CommError: the service or its blob store cannot be reached, or the
            content does not match its digest.
    """
    name = check_name(name)
    target = os.path.join(os.path.abspath(root), *name.split("/"))
    if os.path.exists(target) and not replace:
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    expected = [""]  # the stream's info chunk announces the digest

    def chunks() -> Iterator[bytes]:
        for chunk in client.read_file(key, name):
            if chunk.info is not None:
                expected[0] = chunk.info.digest
            yield chunk.data

    try:
        write_verified(chunks(), target, lambda: expected[0])
    except DigestMismatch:
        raise CommError(f"{name}: downloaded content does not match its sha256 {expected[0]}") from None
    return target
