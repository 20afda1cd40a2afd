"""The one error a bad sweep configuration raises."""

from __future__ import annotations


class SweepConfigError(ValueError):
    """A sweep configuration that does not follow the schema or its rules.

    The message starts with the path of the bad key (``parameters.lr.min``) and says
    what was expected there; ``path`` holds the same path.
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
