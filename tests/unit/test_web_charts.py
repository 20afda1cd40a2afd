"""The chart lines' server side: W&B's smoothing, min/max buckets per smoothing and x axis,
robust ranges, histogram heatmaps and system units, on the in-memory store."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mytrack_service.store.base import Batch, RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from mytrack_service.web.histograms import heatmap, rebin
from mytrack_service.web.responses import ApiError
from mytrack_service.web.series import chart_line
from mytrack_service.web.smoothing import linear_scan, smooth
from mytrack_service.web.units import unit

KEY = RunKey("e", "p", "r1")


def reference_ema(ys: list[float], weight: float) -> list[float]:
    """W&B's debiased EMA point by point; a NaN is a gap that leaves the average as it was."""
    out, last, n = [], 0.0, 0
    for y in ys:
        if not math.isfinite(y):
            out.append(math.nan)
            continue
        n += 1
        last = last * weight + (1 - weight) * y
        out.append(last / (1 - weight ** n))
    return out


def reference_twema(xs: list[float], ys: list[float], param: float) -> list[float]:
    weight = min(math.sqrt(param), 0.999)
    span = max(xs) - min(xs)
    out, last, debias = [], 0.0, 0.0
    for i, y in enumerate(ys):
        adj = weight ** ((xs[i] - xs[max(0, i - 1)]) / span * 1000)
        last, debias = last * adj + y, debias * adj + 1
        out.append(last / debias)
    return out


@pytest.mark.parametrize("weight", [0.01, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("n", [3, 40, 5000])
def test_ema_is_wandbs_debiased_ema(weight: float, n: int) -> None:
    """The vectorised EMA equals W&B's loop to rounding, for short and long lines and every weight."""
    ys = np.random.default_rng(n).normal(5, 3, size=n)
    assert smooth(ys, weight, "ema") == pytest.approx(reference_ema(list(ys), weight), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("weight", [0.01, 0.6, 0.99])
def test_time_weighted_ema_is_wandbs_twema_on_uneven_x(weight: float) -> None:
    """The time-weighted EMA decays with the x distance (uneven gaps, a long pause) as W&B's TWEMA does."""
    rng = np.random.default_rng(1)
    xs = np.cumsum(rng.exponential(size=3000))
    xs[1500:] += 500.0  # a long pause: the average almost restarts
    ys = rng.normal(size=3000)
    assert smooth(ys, weight, "time", xs) == pytest.approx(reference_twema(list(xs), list(ys), weight), rel=1e-9,
                                                           abs=1e-9)


def test_gaps_stay_gaps_and_constants_stay_exact() -> None:
    """NaN points stay NaN and do not move the average; a constant line smooths to itself exactly."""
    ys = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    got = smooth(ys, 0.5, "ema")
    assert np.isnan(got[1]) and np.isnan(got[3])
    assert got[[0, 2, 4]] == pytest.approx([v for v in reference_ema([1.0, 3.0, 5.0], 0.5)])
    constant = np.full(100_000, 3e-4)
    assert (smooth(constant, 0.99, "ema") == 3e-4).all() and (smooth(constant, 0.9, "time") == 3e-4).all()
    with pytest.raises(ValueError, match="smoothing must be in"):
        smooth(ys, 1.0)


def test_linear_scan_over_many_points_matches_the_loop() -> None:
    """The block scan joins blocks exactly: steep decay (many short blocks) and none (one block)."""
    rng = np.random.default_rng(2)
    b = rng.normal(size=200_000)
    for a_value in (0.3, 1.0):
        a = np.full(len(b), a_value)
        got = linear_scan(a, b)
        s, want = 0.0, np.empty(len(b))
        for i in range(len(b)):
            s = a_value * s + b[i]
            want[i] = s
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6)


def _store(steps: int, spike_at: int | None = None) -> MemoryStore:
    store = MemoryStore()
    store.create_run(RunRow(KEY, name="r", state="finished"))
    rows = []
    for s in range(steps):
        value = 1.0 / (1 + s) + (0.1 if s % 2 else 0.0)
        if s == spike_at:
            value = 100.0
        rows.append((s, {"_step": s, "_runtime": s * 0.5, "_timestamp": 1.7e9 + s * 0.5, "loss": value,
                         "epoch": s // 100}))
    store.write_batch(Batch(KEY, rows))
    return store


def test_a_smoothed_line_keeps_both_lines_extremes_within_the_point_budget() -> None:
    """With smoothing, the reduced line keeps the raw spike and the smoothed line's own extremes, and both lines are
    given at the same points."""
    store = _store(20_000, spike_at=12_345)
    line = chart_line(store, KEY, {"key": "loss", "smoothing": "0.9", "points": "2000"})
    assert line["sampled"] and len(line["y"]) <= 2000 and len(line["smoothed"]) == len(line["y"])
    assert max(line["y"]) == 100.0 and line["steps"][line["y"].index(100.0)] == 12_345
    _, ys = store.read_series(KEY, "loss")
    full = smooth(ys, 0.9)
    assert max(line["smoothed"]) == pytest.approx(full.max()) and min(line["smoothed"]) == pytest.approx(full.min())
    assert line["smoothed"] == pytest.approx(full[line["steps"]].tolist())


def test_a_zoomed_smoothed_range_is_cut_from_the_line_smoothed_from_its_start() -> None:
    """Zooming never restarts the smoothing: the range's points equal the whole line's smoothed ones."""
    store = _store(3000)
    line = chart_line(store, KEY, {"key": "loss", "smoothing": "0.95", "min_step": "1000", "max_step": "1099"})
    assert line["steps"] == list(range(1000, 1100)) and not line["sampled"]
    _, ys = store.read_series(KEY, "loss")
    assert line["smoothed"] == pytest.approx(smooth(ys, 0.95)[1000:1100].tolist())


def test_x_axes_epoch_relative_and_wall_time() -> None:
    """x=epoch, _runtime and _timestamp give each point the value logged at its step; the time-weighted smoothing uses
    that x."""
    store = _store(500)
    by_epoch = chart_line(store, KEY, {"key": "loss", "x": "epoch"})
    assert by_epoch["xs"] == [s // 100 for s in range(500)]
    relative = chart_line(store, KEY, {"key": "loss", "x": "_runtime", "smoothing": "0.5", "smoothing_type": "time"})
    assert relative["xs"] == [s * 0.5 for s in range(500)]
    _, ys = store.read_series(KEY, "loss")
    assert relative["smoothed"] == pytest.approx(reference_twema([s * 0.5 for s in range(500)], list(ys), 0.5))
    wall = chart_line(store, KEY, {"key": "loss", "x": "_timestamp"})
    assert wall["xs"][0] == 1.7e9
    assert chart_line(store, KEY, {"key": "loss", "x": "nothing"})["steps"] == []


def test_robust_range_ignores_a_spike_and_bad_parameters_say_which() -> None:
    """robust=1 gives a y range around the bulk of the points, without the one spike; bad settings are 400s."""
    store = _store(5000, spike_at=2500)
    low, high = chart_line(store, KEY, {"key": "loss", "robust": "1"})["y_robust"]
    assert high < 2.0 and low < 0.1
    for query, message in [({"smoothing": "1.5"}, "smoothing must be in"),
                           ({"smoothing": "x"}, "smoothing must be a number"),
                           ({"smoothing": "0.5", "smoothing_type": "gauss"}, "smoothing_type must be one of")]:
        with pytest.raises(ApiError, match=message):
            chart_line(store, KEY, {"key": "loss", **query})


def test_histograms_become_a_step_by_bins_heatmap_keeping_each_steps_total() -> None:
    """Histograms with different edges are put on common bins; each column keeps its step's total count."""
    store = MemoryStore()
    store.create_run(RunRow(KEY, name="r", state="finished"))
    rows = []
    for s in range(4):
        counts, edges = np.histogram(np.random.default_rng(s).normal(s, 1, 300), bins=10)
        rows.append((s, {"_step": s, "w": {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}}))
    store.write_batch(Batch(KEY, rows))
    answer = heatmap(store, KEY, {"key": "w", "bins": "32"})
    assert answer["steps"] == [0, 1, 2, 3] and len(answer["edges"]) == 33
    assert [sum(c) for c in answer["counts"]] == pytest.approx([300] * 4)
    assert rebin(np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.5, 2.0])) == pytest.approx(
        [0.5, 3.5])


def test_system_metrics_have_units() -> None:
    """The system charts' units are those of docs/system-metrics.md, labels of shared runs included."""
    assert unit("system/cpu") == "%"
    assert unit("system/gpu.0.memory_used [rank1]") == "MB"
    assert unit("system/gpu.3.temperature") == "°C"
    assert unit("system/proc.cpu") == "% of one core"
    assert unit("system/something.new") == ""
