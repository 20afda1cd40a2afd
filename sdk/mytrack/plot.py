"""Charts for ``log()``: each helper returns a table plus a chart spec.

    run.log({"pr": mytrack.plot.pr_curve(y_true, y_probas, labels=["cat", "dog"])})

Curves are computed here with NumPy (scikit-learn is not needed): the points
are scikit-learn's ``precision_recall_curve`` and
``roc_curve(drop_intermediate=False)``, thinned evenly to at most
`MAX_POINTS` per class. The row holds ``{"_type": "plot", "spec": {"chart",
"title", "fields"}, "table": <table descriptor>}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mytrack._internal.media.chart import Plot
from mytrack._internal.media.curves import precision_recall, roc, thin
from mytrack._internal.media.table import Table
from mytrack.errors import InvalidValueError

__all__ = ["Plot", "bar", "confusion_matrix", "histogram", "line", "line_series", "pr_curve",
           "roc_curve", "scatter"]

# Most points per class in a PR or ROC curve.
MAX_POINTS = 2_000


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str | None = None) -> Plot:
    """A line of column ``y`` against column ``x`` (one line per ``stroke`` value)."""
    _columns(table, "line", x, y, *([stroke] if stroke else []))
    return Plot("line", table, {"x": x, "y": y, "stroke": stroke}, title)


def scatter(table: Table, x: str, y: str, title: str | None = None) -> Plot:
    """Points of column ``y`` against column ``x``."""
    _columns(table, "scatter", x, y)
    return Plot("scatter", table, {"x": x, "y": y}, title)


def bar(table: Table, label: str, value: str, title: str | None = None) -> Plot:
    """One bar per row: its ``label`` column and its ``value`` column."""
    _columns(table, "bar", label, value)
    return Plot("bar", table, {"label": label, "value": value}, title)


def histogram(table: Table, value: str, title: str | None = None) -> Plot:
    """A histogram of the values of column ``value``."""
    _columns(table, "histogram", value)
    return Plot("histogram", table, {"value": value}, title)


def line_series(
    xs: Sequence[Any], ys: Sequence[Sequence[Any]], keys: Sequence[str] | None = None,
    title: str | None = None, xname: str | None = None,
) -> Plot:
    """Several lines: ``ys[i]`` against ``xs`` (shared) or ``xs[i]``, named ``keys[i]``.

    The table has one row per point: ``lineKey``, ``step`` (x), ``lineVal`` (y).
    """
    import numpy as np

    series = [list(np.asarray(y).reshape(-1).tolist()) for y in ys]
    shared = len(xs) > 0 and not isinstance(xs[0], list | tuple) and np.ndim(xs[0]) == 0
    xss = [list(xs)] * len(series) if shared else [list(np.asarray(x).reshape(-1).tolist()) for x in xs]
    names = list(keys) if keys is not None else [f"key_{i}" for i in range(len(series))]
    if len(xss) != len(series) or len(names) != len(series):
        raise InvalidValueError(
            f"line_series expects one xs (shared) or one per line, and one key per line; got "
            f"{len(series)} lines, {len(xss)} xs, {len(names)} keys"
        )
    rows: list[list[Any]] = []
    for name, x, y in zip(names, xss, series, strict=True):
        if len(x) != len(y):
            raise InvalidValueError(f"line_series: line {name!r} has {len(y)} y values for {len(x)} x values")
        rows.extend([name, a, b] for a, b in zip(x, y, strict=True))
    table = Table(columns=["lineKey", "step", "lineVal"], data=rows)
    return Plot("line_series", table, {"x": "step", "y": "lineVal", "stroke": "lineKey",
                                       "xname": xname or "step"}, title)


def pr_curve(
    y_true: Any, y_probas: Any, labels: Sequence[Any] | None = None,
    classes_to_plot: Sequence[int] | None = None, title: str | None = None,
) -> Plot:
    """Precision-recall curve of each class (one vs rest).

    Args:
        y_true: the true class of each example: ints from 0, or values of ``labels``.
        y_probas: (examples, classes) scores; a 1-D array is the score of class 1
            of a binary problem.
        labels: names of the classes, in column order.
        classes_to_plot: the class indices to draw (default all).

    The table's columns: ``class``, ``precision``, ``recall``.
    """
    rows: list[list[Any]] = []
    for name, truth, scores in _one_vs_rest("pr_curve", y_true, y_probas, labels, classes_to_plot):
        precision, recall, _ = precision_recall(truth, scores)
        for i in thin(len(precision), MAX_POINTS):
            rows.append([name, float(precision[i]), float(recall[i])])
    table = Table(columns=["class", "precision", "recall"], data=rows)
    return Plot("pr_curve", table, {"x": "recall", "y": "precision", "class": "class"}, title)


def roc_curve(
    y_true: Any, y_probas: Any, labels: Sequence[Any] | None = None,
    classes_to_plot: Sequence[int] | None = None, title: str | None = None,
) -> Plot:
    """ROC curve of each class (one vs rest); arguments as `pr_curve`.

    The table's columns: ``class``, ``fpr``, ``tpr``.
    """
    rows: list[list[Any]] = []
    for name, truth, scores in _one_vs_rest("roc_curve", y_true, y_probas, labels, classes_to_plot):
        fpr, tpr, _ = roc(truth, scores)
        for i in thin(len(fpr), MAX_POINTS):
            rows.append([name, float(fpr[i]), float(tpr[i])])
    table = Table(columns=["class", "fpr", "tpr"], data=rows)
    return Plot("roc_curve", table, {"x": "fpr", "y": "tpr", "class": "class"}, title)


def confusion_matrix(
    probs: Any = None, y_true: Any = None, preds: Any = None,
    class_names: Sequence[str] | None = None, title: str | None = None,
) -> Plot:
    """Counts of (actual, predicted) class pairs; give ``preds`` or ``probs`` (argmax).

    The table has a row for every pair, actual-major: ``Actual``,
    ``Predicted`` (class names; default ``Class_1``...), ``nPredictions``.
    """
    import numpy as np

    if (probs is None) == (preds is None):
        raise InvalidValueError("confusion_matrix expects exactly one of probs= or preds=")
    if preds is None:
        scores = np.asarray(probs, dtype=np.float64)
        if scores.ndim != 2:
            raise InvalidValueError(f"confusion_matrix expects probs of shape (examples, classes), got {scores.shape}")
        predicted = scores.argmax(axis=1)
    else:
        predicted = _int_labels("confusion_matrix", "preds", preds)
    actual = _int_labels("confusion_matrix", "y_true", y_true)
    if actual.shape != predicted.shape:
        raise InvalidValueError(
            f"confusion_matrix expects as many y_true as predictions, got {actual.size} and {predicted.size}"
        )
    count = len(class_names) if class_names is not None else int(max(actual.max(initial=-1),
                                                                     predicted.max(initial=-1))) + 1
    if probs is not None and class_names is None:
        count = max(count, np.asarray(probs).shape[1])
    if actual.size and (min(int(actual.min()), int(predicted.min())) < 0
                        or max(int(actual.max()), int(predicted.max())) >= count):
        raise InvalidValueError(f"confusion_matrix expects class indices from 0 to {count - 1}")
    names = list(class_names) if class_names is not None else [f"Class_{i + 1}" for i in range(count)]
    matrix = np.zeros((count, count), dtype=np.int64)
    np.add.at(matrix, (actual, predicted), 1)
    rows = [[names[a], names[p], int(matrix[a, p])] for a in range(count) for p in range(count)]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=rows)
    return Plot("confusion_matrix", table, {"actual": "Actual", "predicted": "Predicted",
                                            "value": "nPredictions"}, title)


def _columns(table: Any, what: str, *names: str) -> None:
    if not isinstance(table, Table):
        raise InvalidValueError(f"plot.{what} expects a mytrack.Table, got {type(table).__name__}")
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise InvalidValueError(
            f"plot.{what}: the table has no column {missing[0]!r} (columns: {', '.join(table.columns)})"
        )


def _one_vs_rest(
    what: str, y_true: Any, y_probas: Any, labels: Sequence[Any] | None,
    classes: Sequence[int] | None,
) -> list[tuple[Any, Any, Any]]:
    """(class name, truth as 0/1, scores) for each class to draw."""
    import numpy as np

    scores = np.asarray(y_probas, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.stack([1.0 - scores, scores], axis=1)
    if scores.ndim != 2 or not np.isfinite(scores).all():
        raise InvalidValueError(
            f"{what} expects y_probas of shape (examples, classes), finite, got shape {scores.shape}")
    truth = np.asarray(y_true)
    if labels is not None and truth.dtype.kind not in "iu":
        index = {label: i for i, label in enumerate(labels)}
        if any(t not in index for t in truth.tolist()):
            raise InvalidValueError(f"{what}: y_true holds a value that is not in labels")
        truth = np.array([index[t] for t in truth.tolist()], dtype=np.int64)
    truth = _int_labels(what, "y_true", truth)
    if truth.size != scores.shape[0]:
        raise InvalidValueError(
            f"{what} expects one y_true per row of y_probas, got {truth.size} and {scores.shape[0]}")
    if truth.size and (truth.min() < 0 or truth.max() >= scores.shape[1]):
        raise InvalidValueError(f"{what}: y_true must be class indices from 0 to {scores.shape[1] - 1}")
    if labels is not None and len(labels) != scores.shape[1]:
        raise InvalidValueError(
            f"{what} expects one label per column of y_probas ({scores.shape[1]}), got {len(labels)}")
    chosen = range(scores.shape[1]) if classes is None else classes
    out = []
    for c in chosen:
        if not 0 <= int(c) < scores.shape[1]:
            raise InvalidValueError(f"{what}: classes_to_plot holds {c}, not a column of y_probas")
        name = labels[c] if labels is not None else int(c)
        out.append((name, (truth == c).astype(np.int64), scores[:, c]))
    return out


def _int_labels(what: str, name: str, values: Any) -> Any:
    import numpy as np

    array = np.asarray(values).reshape(-1)
    if array.size and array.dtype.kind not in "iu":
        if array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0):
            return array.astype(np.int64)
        raise InvalidValueError(f"{what} expects {name} as class indices (ints from 0), got dtype {array.dtype}")
    return array.astype(np.int64)
