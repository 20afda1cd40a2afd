"""Importing a mytrack.integration module without its framework names the extra that installs it."""

from __future__ import annotations

import importlib
import sys

import pytest

from mytrack.errors import MissingExtraError

CASES = [
    ("lightning", ("lightning", "lightning.pytorch", "pytorch_lightning"), "lightning"),
    ("pytorch_lightning", ("pytorch_lightning",), "lightning"),
    ("transformers", ("transformers",), "transformers"),
    ("accelerate", ("accelerate", "accelerate.tracking"), "accelerate"),
    ("optuna", ("optuna",), "optuna"),
]


@pytest.mark.parametrize(("integration", "hidden", "extra"), CASES, ids=[c[0] for c in CASES])
def test_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch, integration: str,
                                           hidden: tuple[str, ...], extra: str) -> None:
    """MissingExtraError (also an ImportError) saying pip install 'mytrack[<extra>]'."""
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.delitem(sys.modules, f"mytrack.integration.{integration}", raising=False)
    with pytest.raises(MissingExtraError, match=rf"pip install 'mytrack\[{extra}\]'") as caught:
        importlib.import_module(f"mytrack.integration.{integration}")
    assert isinstance(caught.value, ImportError)


def test_keras_callbacks_need_keras(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Keras module imports without Keras; asking for a callback names mytrack[keras]."""
    import mytrack.integration.keras as callbacks

    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.setattr(callbacks, "_defined", {})
    with pytest.raises(MissingExtraError, match=r"mytrack\[keras\]"):
        callbacks.MetricsLogger  # noqa: B018 - the attribute access is the test


def test_lightning_falls_back_to_pytorch_lightning(monkeypatch: pytest.MonkeyPatch) -> None:
    """With only pytorch_lightning installed, mytrack.integration.lightning builds on it."""
    pl = pytest.importorskip("pytorch_lightning")
    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.delitem(sys.modules, "mytrack.integration.lightning", raising=False)
    module = importlib.import_module("mytrack.integration.lightning")
    assert issubclass(module.MytrackLogger, pl.loggers.Logger)
