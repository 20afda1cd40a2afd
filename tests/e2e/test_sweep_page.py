"""The sweep page in a real browser (Chromium, headless; the fixtures of test_web_browser.py).

A sweep's trials are run by a real agent (function trials, in this process), and the page is
opened from a trial's ``run.sweep_url``; what the plots drew is read back from
``window.mytrackCharts`` and plotly's own data on the plot elements.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack._internal.transport import webui
from tests.e2e.test_web_browser import _quiet, browser, chart_traces, shot, until, web  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_current_run")

CONFIG = {
    "method": "random", "run_cap": 6, "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"a": {"min": 0.0, "max": 1.0}, "opt": {"parameters": {"kind": {"values": ["x", "y"]}}}},
}


def _loss(config: dict[str, Any]) -> float:
    return float(config["a"]) + (0.0 if config["opt"]["kind"] == "x" else 1.0)


def _run_sweep(project: str) -> tuple[str, list[str], dict[str, float]]:
    sweep_id = mytrack.sweep(CONFIG, project=project, quiet=True)
    urls: list[str] = []
    losses: dict[str, float] = {}

    def train() -> None:
        run = mytrack.init()
        urls.append(str(run.sweep_url))
        losses[run.id] = _loss(dict(run.config))
        run.log({"loss": losses[run.id]})

    mytrack.agent(sweep_id, function=train, project=project)
    return sweep_id, urls, losses


def test_sweep_url_opens_the_sweep_page_with_trials_and_plots(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],  # noqa: F811
) -> None:
    """run.sweep_url opens the sweep page: its state and counts, a row per trial (sortable by the
    metric), parallel coordinates of the parameters and the metric, the metric against each
    parameter, the best value so far by trial, and the parameters' importance."""
    from selenium.webdriver.common.by import By

    sweep_id, urls, losses = _run_sweep(project)
    assert len(urls) == 6 and len(set(urls)) == 1 and f"/sweeps/{sweep_id}" in urls[0]
    browser.get(urls[0])
    until(browser, "document.querySelectorAll('#sweep-trials tr[data-run]').length === 6", "six trials")
    assert browser.find_element(By.ID, "sweep-state").text == "finished"
    assert "6 finished" in browser.find_element(By.ID, "sweep-facts").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#sweep-trials tr[data-run]")
    assert {r.get_attribute("data-run") for r in rows} == set(losses)

    parcoords = until(browser, "(function(){var e=document.getElementById('sweep-parallel');"
                               "return e.data && e.data[0] && e.data[0].type === 'parcoords' && e.data[0];})()",
                      "the parallel coordinates")
    labels = [d["label"] for d in parcoords["dimensions"]]
    assert labels == ["a", "opt.kind", "loss"]
    assert sorted(parcoords["dimensions"][2]["values"]) == pytest.approx(sorted(losses.values()))
    assert parcoords["dimensions"][1]["ticktext"] == sorted({"x", "y"} & _kinds(losses))

    scatter_a = chart_traces(browser, "sweep-scatter-a")
    assert sorted(scatter_a[0]["y"]) == pytest.approx(sorted(losses.values()))
    best = chart_traces(browser, "sweep-best")
    order = [losses[r] for r in _by_seq(mytrack.Api().sweep(f"{project}/{sweep_id}").trials)]
    assert best[0]["x"] == list(range(6))
    assert best[0]["y"] == pytest.approx([min(order[: i + 1]) for i in range(6)])

    names = [e.get_attribute("data-param")
             for e in browser.find_elements(By.CSS_SELECTOR, "#sweep-importance-table tr[data-param]")]
    assert "a" in names
    shot("sweep")

    browser.find_element(By.CSS_SELECTOR, '#sweep-trials th[data-col="metric"]').click()
    until(browser, "document.querySelector('#sweep-trials th[data-col=\"metric\"]').textContent.endsWith('▲')",
          "sorted by the metric")
    shown = [r.get_attribute("data-run") for r in browser.find_elements(By.CSS_SELECTOR, "#sweep-trials tr[data-run]")]
    assert shown == sorted(losses, key=losses.__getitem__)


def test_project_page_links_its_sweeps_and_draws_parallel_coordinates(
    browser: Any, web: webui.WebAddress, project: str, shot: Callable[[str], Path],  # noqa: F811
) -> None:
    """The project page lists its sweeps (linking to their pages) and draws parallel coordinates of
    any run's config keys against a summary metric, sweep or not."""

    sweep_id, _, losses = _run_sweep(project)
    with mytrack.init(project=project, config={"a": 5.0, "opt": {"kind": "z"}}) as extra:
        extra.log({"loss": 9.0})
    browser.get(str(extra.project_url))
    link = until(browser, "document.querySelector('#project-sweeps a')", "the sweeps list")
    assert sweep_id in link.text
    dims = until(browser, "window.mytrackCharts['project-parallel'] && "
                          "window.mytrackCharts['project-parallel'].dimensions", "the parallel coordinates")
    by_label = {d["label"]: d for d in dims}
    assert by_label["loss"]["values"] and sorted(by_label["loss"]["values"]) == pytest.approx(
        sorted([*losses.values(), 9.0]))
    assert "a" in by_label and "opt.kind" in by_label
    shot("project")
    link.click()
    until(browser, f"location.pathname.endsWith('/sweeps/{sweep_id}')", "the sweep page")
    until(browser, "document.querySelectorAll('#sweep-trials tr[data-run]').length === 6", "its trials")


def _by_seq(trials: list[dict[str, Any]]) -> list[str]:
    return [t["run_id"] for t in sorted(trials, key=lambda t: t["seq"])]


def _kinds(losses: dict[str, float]) -> set[str]:
    return {"x" if v < 1.0 else "y" for v in losses.values()}
