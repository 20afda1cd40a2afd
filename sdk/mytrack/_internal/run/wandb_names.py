"""Names of W&B's ``Run`` that real code uses and the reference page omits.

Kept apart from `run.py` (a mixin of `Run`): they only read what the run
already holds. ``run.step`` is the step the next ``log()`` without a step
writes to (W&B's meaning), ``run.starting_step`` the first step of this
process (0, or where a resumed run went on), the ``get_*_url()`` methods
W&B's older spellings of the URL properties, and ``_label()`` the call
integrations make to tag W&B's telemetry, which mytrack does not keep.
"""

from __future__ import annotations

from typing import Any


class WandbRunNames:
    """Mixed into `Run`; relies on its ``_step``, ``_starting_step`` and URL properties."""

    _step: int
    _starting_step: int

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` records to."""
        return self._step

    @property
    def starting_step(self) -> int:
        """The run's step when this process started it (a resumed run's next step)."""
        return self._starting_step

    def get_url(self) -> str | None:
        """``run.url`` (W&B's older spelling)."""
        url: str | None = getattr(self, "url", None)
        return url

    def get_project_url(self) -> str | None:
        """``run.project_url`` (W&B's older spelling)."""
        url: str | None = getattr(self, "project_url", None)
        return url

    def get_sweep_url(self) -> str | None:
        """``run.sweep_url`` (W&B's older spelling); None without a sweep."""
        url: str | None = getattr(self, "sweep_url", None)
        return url

    def _label(self, code: str | None = None, repo: str | None = None, code_version: str | None = None,
               **kwargs: Any) -> None:
        """Integrations tag W&B's telemetry with this (HF: ``code="transformers_trainer"``);
        mytrack keeps no telemetry, so it is accepted and does nothing."""
