"""Fixtures of the fault-injection suite: a private service home per test
(the same as the end-to-end durability tests use)."""

from __future__ import annotations

from tests.e2e.test_durability import home  # noqa: F401 - a fixture, re-exported
