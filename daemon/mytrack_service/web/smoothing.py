"""W&B's chart smoothing, on whole series in the service, vectorised with NumPy.

Two kinds, both debiased so that the first points are not pulled towards 0:

* ``ema``: TensorBoard's and W&B's exponential moving average,
  ``last = last * w + (1 - w) * y`` divided by ``1 - w**n`` (n: points so far);
* ``time``: W&B's time-weighted EMA (TWEMA), whose weight decays with the x
  distance between points rather than their count:
  ``w' = sqrt(w)**(dx / range(x) * 1000)``, ``last = last * w' + y``,
  ``debias = debias * w' + 1``, shown ``last / debias``. Lines with different
  point densities are then smoothed alike.

Non-finite values are gaps: they are skipped (they neither move nor reset the
average) and stay gaps in the output.

Both are first-order linear recurrences ``s[n] = a[n] * s[n-1] + b[n]``, which
:func:`linear_scan` solves in blocks: inside a block, with ``L`` the running
sum of ``log a``, ``s = exp(L) * cumsum(b * exp(-L))``; a block is as long as
keeps ``exp(-L)`` finite, and the blocks' ends are joined by the same scan on
the (far fewer) block totals. A million points take a few NumPy passes, not a
million Python steps.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

KINDS = ("ema", "time")
VIEWPORT_SCALE = 1000.0  # W&B's: a TWEMA weight applies per 1/1000 of the x range
_MAX_DROP = 200.0  # nats of decay per block: exp(200) is far from float64's limit
_MAX_STEP_DROP = 40.0  # exp(-40) ~ 4e-18: a larger decay in one point is a reset


def smooth(
    values: NDArray[np.float64], weight: float, kind: str = "ema",
    xs: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """The smoothed line (same length; NaN where ``values`` is not finite).

    Args:
        values: the raw line, in drawing order.
        weight: W&B's smoothing parameter in [0, 1); 0 returns a copy of ``values``.
        kind: ``"ema"`` or ``"time"``.
        xs: the x value of each point (needed by ``"time"``; ``None`` means 0, 1, 2...).
    """
    import numpy as np

    if kind not in KINDS:
        raise ValueError(f"smoothing kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {weight!r}")
    out = np.array(values, dtype=np.float64)
    finite = np.isfinite(out)
    every = bool(finite.all())  # the common case: no masking
    if not every:
        out[~finite] = np.nan
    ys = out if every else out[finite]
    if weight == 0.0 or len(ys) == 0 or ys.min() == ys.max():
        return out  # a constant smooths to itself, exactly (the scan would add rounding noise)
    if kind == "ema":
        smoothed = _constant_scan(weight, (1.0 - weight) * ys)
        _debias(smoothed, math.log(weight), 1.0)
    else:
        x = np.arange(len(out), dtype=np.float64) if xs is None else np.asarray(xs, np.float64)
        smoothed = _time_weighted(ys, x if every else x[finite], weight)
    if every:
        return smoothed
    out[finite] = smoothed
    return out


def _time_weighted(ys: NDArray[np.float64], xs: NDArray[np.float64], weight: float) -> NDArray[np.float64]:
    import numpy as np

    w = min(math.sqrt(weight), 0.999)
    span = float(np.nanmax(xs) - np.nanmin(xs)) if len(xs) else 0.0
    scale = VIEWPORT_SCALE / span * math.log(w) if span > 0 else 0.0
    dx = np.diff(xs)
    if len(dx) and dx[0] > 0 and dx[0] == dx[-1] and (dx == dx[0]).all():
        # Evenly spaced x (steps 0, 1, 2...): one weight, and the debias term in closed form,
        # 1 + a + ... + a**n (a[0] multiplies the state before the first point, 0).
        step = max(float(dx[0]) * scale, -_MAX_STEP_DROP)
        smoothed = _constant_scan(math.exp(step), ys)
        if step == 0.0:
            smoothed /= np.arange(1, len(ys) + 1, dtype=np.float64)
        else:
            _debias(smoothed, step, -math.expm1(step))
        return smoothed
    dx[~(dx > 0)] = 0.0  # x going back (or unknown): no decay
    dx *= scale
    np.maximum(dx, -_MAX_STEP_DROP, out=dx)
    a = np.exp(np.concatenate([[0.0], dx]))
    return linear_scan(a, ys) / linear_scan(a, np.ones(len(ys)))


def _debias(smoothed: NDArray[np.float64], log_a: float, scale: float) -> None:
    """Divides point n by ``(1 - a**(n+1)) / scale`` in place: only the first points'
    factor differs from ``1 / scale`` in float64, so only they get a division of their own."""
    import numpy as np

    head = min(len(smoothed), int(40.0 / -log_a) + 1)
    smoothed[:head] /= -np.expm1(np.arange(1, head + 1) * log_a) / scale
    if head < len(smoothed):
        smoothed[head:] *= scale


def linear_scan(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``s[n] = a[n] * s[n-1] + b[n]`` with ``s[-1] = 0``, for ``a`` in (0, 1]."""
    import numpy as np

    n = len(a)
    if n <= 32:
        out = np.empty(n)
        s = 0.0
        for i in range(n):
            s = float(a[i]) * s + float(b[i])
            out[i] = s
        return out
    if a[0] == a[-1] and (a == a[0]).all():
        return _constant_scan(float(a[0]), b)
    log_a = np.log(np.clip(a, math.exp(-_MAX_STEP_DROP), 1.0))
    steepest = float(-log_a.min())
    size = n if steepest * n <= _MAX_DROP else max(1, int(_MAX_DROP / steepest))
    blocks = -(-n // size)
    pad = blocks * size - n
    la = np.concatenate([log_a, np.zeros(pad)]).reshape(blocks, size)
    bb = np.concatenate([b, np.zeros(pad)]).reshape(blocks, size)
    running = np.cumsum(la, axis=1)  # in [-_MAX_DROP, 0]: exp(-running) stays finite
    decay = np.exp(running)
    local = decay * np.cumsum(bb * np.exp(-running), axis=1)  # each block started from 0
    if blocks > 1:
        ends = linear_scan(decay[:, -1], local[:, -1])  # each block's true last value
        local[1:] += decay[1:] * ends[:-1, None]
    result: NDArray[np.float64] = local.reshape(-1)[:n]
    return result


def _constant_scan(a: float, b: NDArray[np.float64], first: float = 0.0) -> NDArray[np.float64]:
    """:func:`linear_scan` for one ``a`` (EMA, evenly spaced TWEMA), from ``s[-1] = first``.

    Every block shares its powers of ``a``, and each block's start value is added
    before the powers are applied: four passes over the data in all.
    """
    import numpy as np

    n = len(b)
    log_a = math.log(min(max(a, math.exp(-_MAX_STEP_DROP)), 1.0))
    size = n if -log_a * n <= _MAX_DROP else max(1, int(_MAX_DROP / -log_a))
    blocks, cut = n // size, (n // size) * size
    powers = np.exp(np.arange(size) * log_a)  # a**j: the weight at j of the block's own first point
    out = np.empty(n)
    local = out[:cut].reshape(blocks, size)
    np.divide(b[:cut].reshape(blocks, size), powers, out=local)
    np.cumsum(local, axis=1, out=local)
    # Each block's start value s[-1] weighs a**(j+1) at j: a / a**0 in the units of `local`.
    ends = local[:, -1] * powers[-1]  # each block's last value, as if it started from 0
    starts = np.empty(blocks)
    state = first
    reach = math.exp(log_a * size)
    for i in range(blocks) if blocks <= 64 else ():
        starts[i] = state
        state = reach * state + float(ends[i])
    if blocks > 64:  # the starts are themselves a scan, over the (few) blocks
        joined = _constant_scan(reach, ends, first)
        starts[0] = first
        starts[1:] = joined[:-1]
        state = float(joined[-1])
    local += (starts * a)[:, None]
    local *= powers
    if cut < n:
        out[cut:] = _constant_scan(a, b[cut:], state)
    return out
