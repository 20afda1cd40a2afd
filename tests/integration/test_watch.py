"""run.watch()/unwatch() on small CPU PyTorch models: histogram keys and counts in the real history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import mytrack  # noqa: E402
from mytrack.errors import InvalidValueError  # noqa: E402

QUIET = mytrack.Settings(quiet=True)


pytestmark = pytest.mark.usefixtures("no_current_run")


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))


def _train(run: Any, model: Any, steps: int) -> list[dict[str, list[float]]]:
    """Forward, backward and log() per step; returns each step's gradients as lists."""
    grads = []
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    for _ in range(steps):
        model.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        grads.append({n: p.grad.reshape(-1).tolist() for n, p in model.named_parameters()})
        run.log({"loss": loss.item()})
    return grads


def _rows(path: str) -> list[dict[str, Any]]:
    return list(mytrack.Api().run(path).scan_history())


SIZES = {"0.weight": 12, "0.bias": 4, "2.weight": 4, "2.bias": 1}


def test_gradients_every_log_freq_backward_passes(project: str) -> None:
    """log_freq=2 puts gradients/<param> histograms (64 bins over the gradient's range) in the rows of backward passes 2
    and 4."""
    model = _model()
    with mytrack.init(project=project, settings=QUIET) as run:
        run.watch(model, log_freq=2)
        grads = _train(run, model, 5)
        path = run.path
    rows = _rows(path)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    for step, row in enumerate(rows):
        keys = sorted(k for k in row if k.startswith(("gradients/", "parameters/")))
        if step in (1, 3):
            assert keys == sorted(f"gradients/{n}" for n in SIZES)
        else:
            assert keys == []
    for step in (1, 3):
        for name, size in SIZES.items():
            hist = rows[step][f"gradients/{name}"]
            assert hist["_type"] == "histogram" and len(hist["values"]) == 64 and len(hist["bins"]) == 65
            assert sum(hist["values"]) == size
            values = grads[step][name]
            if min(values) < max(values):
                assert hist["bins"][0] == pytest.approx(min(values)) and hist["bins"][-1] == pytest.approx(max(values))


def test_all_then_unwatch_stops_logging(project: str) -> None:
    """log="all" logs gradients and parameters each pass with log_freq=1; after unwatch() only the loss is logged."""
    model = _model()
    with mytrack.init(project=project, settings=QUIET) as run:
        run.watch(model, log="all", log_freq=1)
        _train(run, model, 2)
        run.unwatch(model)
        _train(run, model, 2)
        path = run.path
    rows = _rows(path)
    expected = sorted([f"gradients/{n}" for n in SIZES] + [f"parameters/{n}" for n in SIZES])
    for row in rows[:2]:
        assert sorted(k for k in row if "/" in k) == expected
        assert {n: sum(row[f"parameters/{n}"]["values"]) for n in SIZES} == SIZES
    assert [sorted(r) for r in rows[2:]] == [["_runtime", "_step", "_timestamp", "loss"]] * 2


def test_log_graph_records_layers_shapes_and_counts(project: str, tmp_path: Path) -> None:
    """log_graph=True stores the module graph once, as a JSON file with each layer's class, shapes and parameters."""
    model = _model()
    with mytrack.init(project=project, settings=QUIET) as run:
        run.watch(model, log=None, log_graph=True)
        _train(run, model, 2)
        path = run.path
    rows = _rows(path)
    graph = rows[0]["graph_0"]
    assert "graph_0" not in rows[1]
    assert (graph["_type"], graph["nodes"], graph["parameters"]) == ("graph-file", 4, 21)
    content = json.loads(Path(graph.download(str(tmp_path))).read_text())
    assert content["model"] == "Sequential" and content["parameters"] == 21
    assert [(n["name"], n["class"], n["parent"], n["parameters"], n["output_shapes"]) for n in content["nodes"]] == [
        ("", "Sequential", None, 0, [5, 1]),
        ("0", "Linear", "", 16, [5, 4]),
        ("1", "ReLU", "", 0, [5, 4]),
        ("2", "Linear", "", 5, [5, 1]),
    ]
    assert content["nodes"][1]["input_shapes"] == [[5, 3]]


def test_several_models_get_prefixes_and_finish_removes_hooks(project: str) -> None:
    """A second watched model's keys carry graph_1.; after finish() backward passes run without hooks or errors."""
    first, second = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with mytrack.init(project=project, settings=QUIET) as run:
        run.watch([first, second], log_freq=1)
        x = torch.ones(1, 2)
        (first(x) + second(x)).sum().backward()
        run.log({"done": 1})
        path = run.path
    keys = sorted(k for k in _rows(path)[0] if "/" in k)
    assert keys == ["gradients/bias", "gradients/graph_1.bias", "gradients/graph_1.weight", "gradients/weight"]
    (first(x) + second(x)).sum().backward()  # the first hook call finds the run finished and removes all
    assert not first.weight._backward_hooks and not second.weight._backward_hooks


def test_watch_errors() -> None:
    """watch() before init() and with a non-Module or bad option raises ValueError."""
    with pytest.raises(ValueError, match="before mytrack.watch"):
        mytrack.watch(_model())
    run = mytrack.init(mode="disabled", settings=QUIET)
    for call, message in [
        (lambda: run.watch("model"), "torch.nn.Module objects, got str"),
        (lambda: run.watch([_model(), 3]), "got int"),
        (lambda: run.watch(_model(), log="weights"), "log must be"),
        (lambda: run.watch(_model(), log_freq=0), "log_freq must be a positive int"),
    ]:
        with pytest.raises(InvalidValueError, match=message):
            call()
    run.finish()
