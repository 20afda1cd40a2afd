"""Chart controls in a real browser (Chromium, as test_web_browser.py): smoothing, log axes,
the x axis, y ranges, settings in the address, histogram heatmaps, constant lines, the
plotly toolbar and the compare legend.

What a chart draws is read from the page's own chart data (``window.mytrackCharts``) and
from plotly's laid-out figure (``el._fullLayout``), and compared with what was logged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mytrack
from tests.e2e import test_web_browser as base
from tests.e2e.test_web_browser import QUIET, chart_traces, until

# The browser tests' fixtures: one Chromium for this module, screenshots, no active run.
browser, shot, _quiet = base.browser, base.shot, base._quiet


def wandb_ema(ys: list[float], weight: float) -> list[float]:
    """W&B's (TensorBoard's) debiased EMA, point by point, as its docs write it."""
    out, last = [], 0.0
    for n, y in enumerate(ys, 1):
        last = last * weight + (1 - weight) * y
        out.append(last / (1 - weight ** n))
    return out


def wandb_twema(xs: list[float], ys: list[float], param: float) -> list[float]:
    """W&B's time-weighted EMA, point by point, as its docs write it."""
    weight = min(math.sqrt(param), 0.999)
    span = max(xs) - min(xs)
    out, last, debias = [], 0.0, 0.0
    for i, y in enumerate(ys):
        adj = weight ** ((xs[i] - xs[max(0, i - 1)]) / span * 1000)
        last = last * adj + y
        debias = debias * adj + 1
        out.append(last / debias)
    return out


def noisy_run(project: str, steps: int = 120) -> tuple[Any, list[float]]:
    rng = np.random.default_rng(7)
    values = [float(1.0 / (1 + s / 10) + rng.normal() * 0.05) for s in range(steps)]
    with mytrack.init(project=project, name="noisy", settings=QUIET) as run:
        for step, value in enumerate(values):
            run.log({"train/loss": value, "epoch": step // 10, "lr": 3e-4})
    return run, values


def set_control(browser: Any, scope: str, field: str, value: Any, name: str = "") -> None:
    """Sets one control of a settings panel as a user would, firing its change/input event."""
    selector = f'.chart-controls[data-scope="{scope}"]' + (f'[data-name="{name}"]' if name else "")
    browser.execute_script(
        """var box = document.querySelector(arguments[0]);
        var input = box.querySelector('[data-field="' + arguments[1] + '"]');
        if (input.type === 'checkbox') input.checked = arguments[2]; else input.value = arguments[2];
        input.dispatchEvent(new Event(input.type === 'range' ? 'input' : 'change', {bubbles: true}));""",
        selector, field, value)


def test_smoothing_changes_the_drawn_line_and_the_raw_line_stays_faint(
    browser: Any, project: str, shot: Callable[[str], Path],
) -> None:
    """Smoothing for all charts draws W&B's debiased EMA over the raw line (faint, unchanged); the time-weighted kind
    draws W&B's TWEMA; the setting is written into the address."""
    run, values = noisy_run(project)
    browser.get(run.url)
    raw = chart_traces(browser, "train/loss")
    assert len(raw) == 1 and raw[0]["y"] == pytest.approx(values, rel=1e-12)
    set_control(browser, "all", "smoothing", 0.8)
    traces = until(browser, "window.mytrackCharts['train/loss'].length === 2 && window.mytrackCharts['train/loss']",
                   "a smoothed line over the raw one")
    faint, smoothed = traces
    assert faint["raw"] is True and faint["y"] == pytest.approx(values, rel=1e-12)
    assert smoothed["y"] == pytest.approx(wandb_ema(values, 0.8), rel=1e-9)
    assert smoothed["y"] != pytest.approx(values, rel=1e-3)
    opacity = browser.execute_script(
        "return document.querySelector('.chart[data-key=\"train/loss\"]')._fullData"
        ".map(function (t) { return t.opacity; });")
    assert opacity == [0.25, 1]
    assert "chart.smoothing=0.8" in browser.current_url
    shot("ema")
    set_control(browser, "all", "smoothing_type", "time")
    expected = wandb_twema([float(s) for s in range(len(values))], values, 0.8)
    until(browser, "window.mytrackCharts['train/loss'].length === 2 && "
                   f"Math.abs(window.mytrackCharts['train/loss'][1].y[5] - {expected[5]!r}) < 1e-9",
          "the time-weighted line")
    twema = chart_traces(browser, "train/loss")[1]["y"]
    assert twema == pytest.approx(expected, rel=1e-9)


def test_log_scale_and_a_fixed_y_range_per_chart(browser: Any, project: str, shot: Callable[[str], Path]) -> None:
    """A chart's own settings: log y makes plotly's y axis logarithmic (that chart only), a fixed range sets it."""
    run, _ = noisy_run(project)
    browser.get(run.url)
    chart_traces(browser, "train/loss")
    browser.find_element("css selector", 'button.chart-gear[data-scope="chart"][data-name="train/loss"]').click()
    set_control(browser, "chart", "log_y", True, name="train/loss")
    layout = "document.querySelector('.chart[data-key=\"{}\"]')._fullLayout"
    until(browser, layout.format("train/loss") + ".yaxis.type === 'log'", "a log y axis")
    assert browser.execute_script(f"return {layout.format('epoch')}.yaxis.type;") == "linear"
    set_control(browser, "chart", "log_y", False, name="train/loss")
    set_control(browser, "chart", "y_range", "fixed", name="train/loss")
    set_control(browser, "chart", "y_min", "0", name="train/loss")
    set_control(browser, "chart", "y_max", "2", name="train/loss")
    until(browser, f"JSON.stringify({layout.format('train/loss')}.yaxis.range) === '[0,2]'", "the fixed range")
    assert "chart.key.train%2Floss.y_max=2" in browser.current_url
    shot("fixed")


def test_x_axis_by_a_logged_metric_and_by_relative_time(browser: Any, project: str) -> None:
    """Choosing `epoch` as every chart's x axis draws each point at the epoch logged with it; relative time uses
    seconds since the start."""
    run, values = noisy_run(project)
    browser.get(run.url)
    chart_traces(browser, "train/loss")
    set_control(browser, "all", "x", "epoch")
    traces = until(browser, "document.querySelector('.chart[data-key=\"train/loss\"]').dataset.x === 'epoch' && "
                            "window.mytrackCharts['train/loss']", "the chart by epoch")
    assert traces[0]["x"] == [s // 10 for s in range(len(values))]
    assert traces[0]["y"] == pytest.approx(values, rel=1e-12)
    title = browser.execute_script(
        "return document.querySelector('.chart[data-key=\"train/loss\"]')._fullLayout.xaxis.title.text;")
    assert title == "epoch"
    set_control(browser, "all", "x", "_runtime")
    traces = until(browser, "document.querySelector('.chart[data-key=\"train/loss\"]').dataset.x === '_runtime' && "
                            "window.mytrackCharts['train/loss']", "the chart by relative time")
    xs = traces[0]["x"]
    assert len(xs) == len(values) and xs == sorted(xs) and 0 <= xs[0] < 60


def test_settings_in_the_address_reproduce_the_charts_in_a_fresh_page(browser: Any, project: str) -> None:
    """A copied address with chart.* settings draws the same charts in a new page; MyChartSettings exposes them as an
    object (get/set/onchange) for saved views."""
    run, values = noisy_run(project)
    browser.get(run.url + "&chart.smoothing=0.6&chart.section.train.log_y=1&chart.key.epoch.y_range=robust")
    traces = until(browser, "window.mytrackCharts['train/loss'] && window.mytrackCharts['train/loss'].length === 2 && "
                            "window.mytrackCharts['train/loss']", "the smoothed chart from the address")
    assert traces[1]["y"] == pytest.approx(wandb_ema(values, 0.6), rel=1e-9)
    until(browser, "document.querySelector('.chart[data-key=\"train/loss\"]')._fullLayout.yaxis.type === 'log'",
          "the section's log axis")
    settings = browser.execute_script("return MyChartSettings.get();")
    assert settings == {"all": {"smoothing": 0.6}, "sections": {"train": {"log_y": True}},
                        "charts": {"epoch": {"y_range": "robust"}}}
    changed = browser.execute_script(
        "var seen = []; MyChartSettings.onchange = function (s) { seen.push(s); };"
        "MyChartSettings.set({all: {smoothing: 0}}); return seen;")
    assert changed == [{"all": {"smoothing": 0}, "sections": {}, "charts": {}}]
    until(browser, "window.mytrackCharts['train/loss'].length === 1", "the raw line alone")
    assert "chart.section" not in browser.current_url


def test_a_constant_series_is_readable(browser: Any, project: str, shot: Callable[[str], Path]) -> None:
    """lr=3e-4 logged at every step is drawn on a narrow axis around 3e-4, not as a line at 0 on -1...1."""
    run, _ = noisy_run(project)
    browser.get(run.url)
    chart_traces(browser, "lr")
    lr_range = until(browser, "document.querySelector('.chart[data-key=\"lr\"]')._fullLayout.yaxis.range",
                     "the lr axis")
    assert lr_range[0] < 3e-4 < lr_range[1] and lr_range[1] - lr_range[0] <= 1e-4
    ticks = browser.execute_script(
        "return Array.from(document.querySelectorAll('.chart[data-key=\"lr\"] .ytick text'))"
        ".map(function (t) { return t.textContent; });")
    values = [float(t.replace("\u2212", "-").replace("\u03bc", "e-6")) for t in ticks]
    assert len(set(values)) >= 2 and all(lr_range[0] <= v <= lr_range[1] for v in values)
    shot("constant")


def test_histograms_over_time_are_a_heatmap(browser: Any, project: str, shot: Callable[[str], Path]) -> None:
    """A histogram key gets a step x bins heatmap whose columns hold each step's counts."""
    rng = np.random.default_rng(3)
    samples = [rng.normal(loc=step, size=200) for step in range(6)]
    with mytrack.init(project=project, settings=QUIET) as run:
        for data in samples:
            run.log({"weights": mytrack.Histogram(data, num_bins=16)})
    browser.get(run.url)
    heat = chart_traces(browser, "heatmap:weights")[0]
    assert heat["x"] == list(range(6))
    z = np.array(heat["z"], dtype=float)
    assert z.shape[1] == 6 and np.allclose(z.sum(axis=0), 200)
    assert browser.execute_script(
        "return document.querySelector('[data-chart-id=\"heatmap:weights\"]').data[0].type;") == "heatmap"
    # The mass moves up the value axis as the mean grows with the step.
    centres = np.array(heat["y"])
    means = (z * centres[:, None]).sum(axis=0) / z.sum(axis=0)
    assert list(means) == sorted(means)
    shot("heatmap")


def _rects(browser: Any, chart: str, *selectors: str) -> list[dict[str, float]]:
    return [browser.execute_script(
        "var r = document.querySelector(arguments[0] + ' ' + arguments[1]).getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};", chart, s) for s in selectors]


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_the_toolbar_and_the_compare_legend_cover_no_data(
    browser: Any, project: str, shot: Callable[[str], Path],
) -> None:
    """The plotly toolbar sits above the plot area; in compare the legend sits below the x axis' title."""
    a, _ = noisy_run(project)
    with mytrack.init(project=project, name="second-run-with-a-long-name", settings=QUIET) as b:
        for step in range(50):
            b.log({"train/loss": 1.0 / (step + 1), "epoch": step // 10})
    browser.get(a.url)
    chart_traces(browser, "train/loss")
    chart = '.chart[data-key="train/loss"]'
    toolbar, plot = _rects(browser, chart, ".modebar", ".nsewdrag")
    assert toolbar["bottom"] <= plot["top"] + 1, (toolbar, plot)
    web_base = a.url.split("/", 3)
    entity, proj = a.path.split("/")[:2]
    browser.get(f"{web_base[0]}//{web_base[2]}/{entity}/{proj}/compare?runs={a.id},{b.id}")
    until(browser, "window.mytrackCharts['compare:train/loss'] && "
                   "window.mytrackCharts['compare:train/loss'].length === 2", "the compare chart")
    chart = '.chart[data-key="train/loss"]'
    legend, title, plot, toolbar = _rects(browser, chart, ".legend", ".g-xtitle", ".nsewdrag", ".modebar")
    assert not _overlap(legend, title), (legend, title)
    assert not _overlap(legend, plot) and toolbar["bottom"] <= plot["top"] + 1
    shot("compare")
