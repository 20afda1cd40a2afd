"""Chooses a `MetadataStore` implementation by URI scheme.

============================  ===========================================
``sqlite:////abs/path.db``    `SqlStore` on an SQLite file (the default)
``postgresql://...``          `SqlStore` on PostgreSQL through psycopg 3
``postgresql+psycopg://...``  the same, with the driver spelled out
``memory://``                 `MemoryStore`, for tests
============================  ===========================================

Implementations and drivers are imported only when their scheme is asked
for, so that PostgreSQL stays an optional extra.
"""

from __future__ import annotations

import importlib
import os
import re

from mytrack_service.store.base import MetadataStore, StoreError

VALID_SCHEMES = ("sqlite", "postgresql", "memory")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def open_store(uri: str) -> MetadataStore:
    """Opens the store that ``uri`` names.

    Args:
        uri: ``sqlite:///...``, ``postgresql://...``, ``postgresql+psycopg://...``
            or ``memory://``.

    Raises:
        ValueError: the scheme is not one of `VALID_SCHEMES`.
        StoreError: the store cannot be opened, or its driver is not installed.
    """
    scheme, sep, _ = uri.partition("://")
    backend, _, driver = scheme.partition("+")
    if not sep or backend not in VALID_SCHEMES:
        raise ValueError(
            f"unsupported store URI {_hide_password(uri)!r}: the scheme must be one of "
            f"{', '.join(s + '://' for s in VALID_SCHEMES)}"
        )
    if backend == "memory":
        from mytrack_service.store.memory import MemoryStore

        return MemoryStore()
    if backend == "postgresql":
        if not driver:
            uri = "postgresql+psycopg://" + uri[len(scheme) + 3:]
            driver = "psycopg"
        _require_driver(driver)
    from mytrack_service.store.sql import SqlStore

    return SqlStore(uri)


def default_store_uri(home: str) -> str:
    """The embedded SQLite database in the service home ``home``."""
    return f"sqlite:///{os.path.abspath(home)}/mytrack.db"


def _require_driver(driver: str) -> None:
    try:
        importlib.import_module(driver)
    except ImportError as exc:
        raise StoreError(
            f"PostgreSQL needs the {driver!r} driver, which is not installed: "
            "pip install 'mytrack[postgres]'"
        ) from exc


def _hide_password(uri: str) -> str:
    return _PASSWORD.sub(r"\1***@", uri)
