"""The web UI's run page and runs table hide secret-looking values, unless the run opted out."""

from __future__ import annotations

import time
from typing import Any

from mytrack_service.store.base import RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from mytrack_service.web.run_detail import run_detail
from mytrack_service.web.table import runs_table

KEY = RunKey("ent", "proj", "run1")
ARGV = ["train.py", "--password=hunter2", "--lr", "0.1"]
CONFIG = {"lr": 0.1, "db": {"password": "pw"}, "api_key": "k"}


def _store(metadata: dict[str, Any]) -> MemoryStore:
    store = MemoryStore()
    store.create_run(RunRow(key=KEY, created_at=time.time(), config=CONFIG, metadata=metadata))
    return store


def test_old_run_with_verbatim_argv_is_redacted_on_screen() -> None:
    """A run recorded before redaction (no redact_secrets in its metadata) is still shown redacted."""
    store = _store({"argv": ARGV, "program": "train.py", "scheduler": {"SLURM_AUTH_TOKEN": "t"}})
    detail = run_detail(store, KEY)
    assert detail["run"]["command"] == "train.py --password=*** --lr 0.1"
    assert detail["metadata"]["argv"] == ["train.py", "--password=***", "--lr", "0.1"]
    assert detail["metadata"]["scheduler"] == {"SLURM_AUTH_TOKEN": "***"}
    assert detail["config"] == {"lr": 0.1, "db": {"password": "***"}, "api_key": "***"}
    (row,) = runs_table(store, "ent", "proj", {})["runs"]
    assert row["config"] == {"lr": 0.1, "db.password": "***", "api_key": "***"}
    stored = store.get_run(KEY)
    assert stored is not None and stored.config == CONFIG  # stored verbatim


def test_run_that_opted_out_is_shown_verbatim() -> None:
    """redact_secrets=False in the metadata: argv and config shown as recorded."""
    store = _store({"argv": ARGV, "program": "train.py", "redact_secrets": False})
    detail = run_detail(store, KEY)
    assert detail["metadata"]["argv"] == ARGV
    assert detail["config"] == CONFIG
    (row,) = runs_table(store, "ent", "proj", {})["runs"]
    assert row["config"]["db.password"] == "pw"
