"""Fetching a run's saved file from the service, verified by its sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile

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
    digest = hashlib.sha256()
    expected = ""
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".mytrack-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in client.read_file(key, name):
                if chunk.info is not None:
                    expected = chunk.info.digest
                digest.update(chunk.data)
                out.write(chunk.data)
        if digest.hexdigest() != expected:
            raise CommError(f"{name}: downloaded content does not match its sha256 {expected}")
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target
