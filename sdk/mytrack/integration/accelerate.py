"""An accelerate tracker logging to mytrack.

::

    from accelerate import Accelerator
    from mytrack.integration.accelerate import MytrackTracker

    accelerator = Accelerator(log_with=MytrackTracker(run_name="baseline", project="demo"))
    accelerator.init_trackers("demo", config={"lr": 1e-3})
    accelerator.log({"loss": loss}, step=step)
    accelerator.end_training()

Everything happens on the main process only (accelerate's ``on_main_process``).
"""

from __future__ import annotations

from typing import Any

import mytrack
from mytrack.integration._support import plain_params, require

_tracking = require("accelerate.tracking", "accelerate", "accelerate")
on_main_process = _tracking.on_main_process


class MytrackTracker(_tracking.GeneralTracker):  # type: ignore[misc,name-defined]
    """A ``GeneralTracker`` whose run is a mytrack run.

    Args:
        run_name: the run's name.
        project: the project (default: ``MYTRACK_PROJECT``, else mytrack's default).
        **init_kwargs: passed on to `mytrack.init` (tags, group, config, dir...).
    """

    name = "mytrack"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, run_name: str | None = None, project: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self.run_name = run_name
        self.project = project
        self.init_kwargs = init_kwargs
        self.run: mytrack.Run | None = None

    @on_main_process  # type: ignore[untyped-decorator]
    def start(self) -> None:
        """Starts the run (accelerate calls it from ``init_trackers``)."""
        if self.run is None:
            self.run = mytrack.init(name=self.run_name, project=self.project, **self.init_kwargs)

    @property
    def tracker(self) -> mytrack.Run | None:
        """The mytrack Run (None on other processes, and before ``start``)."""
        return self.run

    def _started(self) -> mytrack.Run:
        if self.run is None:
            self.start()
        assert self.run is not None
        return self.run

    @on_main_process  # type: ignore[untyped-decorator]
    def store_init_configuration(self, values: dict[str, Any]) -> None:
        """Records ``values`` as the run's config."""
        self._started().config.update(plain_params(values), allow_val_change=True)

    @on_main_process  # type: ignore[untyped-decorator]
    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        """Logs ``values`` at ``step`` (``Run.log``; ``commit`` may come in ``kwargs``)."""
        self._started().log(values, step=step, **kwargs)

    @on_main_process  # type: ignore[untyped-decorator]
    def log_images(self, values: dict[str, list[Any]], step: int | None = None, **kwargs: Any) -> None:
        """Logs each key's list of images (numpy arrays or PIL images)."""
        self.log({key: [mytrack.Image(image) for image in images] for key, images in values.items()},
                 step=step, **kwargs)

    @on_main_process  # type: ignore[untyped-decorator]
    def log_table(self, table_name: str, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                  dataframe: Any = None, step: int | None = None, **kwargs: Any) -> None:
        """Logs a table from columns and rows, or from a pandas DataFrame."""
        self.log({table_name: mytrack.Table(columns=columns, data=data, dataframe=dataframe)}, step=step, **kwargs)

    @on_main_process  # type: ignore[untyped-decorator]
    def finish(self) -> None:
        """Finishes the run (accelerate calls it from ``end_training``)."""
        if self.run is not None:
            self.run.finish()


__all__ = ["MytrackTracker"]
