"""The check of ``log()``'s ``step`` argument, in the caller's thread."""

from __future__ import annotations

import sys
from typing import Any

from mytrack.errors import InvalidValueError

# Steps are stored as signed 64-bit integers, and the step after the last must fit.
MAX_STEP = 2**63 - 2


def check_step(step: Any) -> int:
    """``step`` as an int, or InvalidValueError naming it.

    NumPy integers are accepted (a training loop's counter often is one);
    bools and floats are not, as in the reference.
    """
    if type(step) is not int:
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(step, numpy.integer):
            step = int(step)
        else:
            raise InvalidValueError(f"step must be a non-negative int, got {step!r}")
    if step < 0 or step > MAX_STEP:
        raise InvalidValueError(f"step must be an int from 0 to {MAX_STEP}, got {step}")
    return int(step)
