"""mytrack.plot: curve math against hand-computed points, and the tables and specs the helpers build."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mytrack
from mytrack._internal.media.curves import precision_recall, roc, thin
from mytrack.errors import InvalidValueError

# scikit-learn's documented example: precision_recall_curve / roc_curve of these.
Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])


def test_precision_recall_matches_hand_computed_points() -> None:
    """Precision/recall at each distinct threshold, recall decreasing, ending at (1, 0)."""
    precision, recall, thresholds = precision_recall(Y, S)
    assert precision.tolist() == pytest.approx([0.5, 2 / 3, 0.5, 1.0, 1.0])
    assert recall.tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]
    assert thresholds.tolist() == [0.1, 0.35, 0.4, 0.8]


def test_roc_matches_hand_computed_points() -> None:
    """ROC points start at (0, 0) with threshold inf and keep every distinct threshold."""
    fpr, tpr, thresholds = roc(Y, S)
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thresholds.tolist() == [math.inf, 0.8, 0.4, 0.35, 0.1]


def test_tied_scores_form_one_point() -> None:
    """Examples with the same score count together at one threshold."""
    y, s = np.array([1, 0, 1]), np.array([0.5, 0.5, 0.2])
    precision, recall, _ = precision_recall(y, s)
    assert precision.tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    assert recall.tolist() == [1.0, 0.5, 0.0]
    fpr, tpr, _ = roc(y, s)
    assert fpr.tolist() == [0.0, 1.0, 1.0] and tpr.tolist() == [0.0, 0.5, 1.0]


def test_class_without_positives_gives_nan_recall() -> None:
    """With no positive example recall and TPR are NaN (as scikit-learn), never a division error."""
    precision, recall, _ = precision_recall(np.array([0, 0]), np.array([0.3, 0.6]))
    assert precision.tolist() == [0.0, 0.0, 1.0]
    assert math.isnan(recall[0]) and math.isnan(recall[1]) and recall[2] == 0.0
    fpr, tpr, _ = roc(np.array([0, 0]), np.array([0.3, 0.6]))
    assert fpr.tolist() == [0.0, 0.5, 1.0] and all(math.isnan(t) for t in tpr)


def test_thin_keeps_ends_and_limit() -> None:
    """Thinning keeps at most the limit, the first and the last point."""
    assert thin(5, 10).tolist() == [0, 1, 2, 3, 4]
    picked = thin(10_001, 2_000)
    assert len(picked) == 2_000 and picked[0] == 0 and picked[-1] == 10_000


def test_pr_curve_table_per_class_with_labels() -> None:
    """pr_curve's table holds (class, precision, recall) rows per class, named by labels."""
    probas = np.stack([1 - S, S], axis=1)
    chart = mytrack.plot.pr_curve(Y, probas, labels=["neg", "pos"], title="PR")
    assert chart.table.columns == ["class", "precision", "recall"]
    expected = np.array([(0.5, 1.0), (2 / 3, 1.0), (0.5, 0.5), (1.0, 0.5), (1.0, 0.0)])
    pos = np.array([(p, r) for c, p, r in chart.table.data if c == "pos"])
    np.testing.assert_allclose(pos, expected)
    neg = np.array([(p, r) for c, p, r in chart.table.data if c == "neg"])
    # class 0: truth [1, 1, 0, 0], scores [0.9, 0.6, 0.65, 0.2]
    np.testing.assert_allclose(neg, expected)
    assert chart.spec == {"chart": "pr_curve", "title": "PR",
                          "fields": {"x": "recall", "y": "precision", "class": "class"}}


def test_roc_curve_binary_scores_and_classes_to_plot() -> None:
    """A 1-D y_probas is class 1 of a binary problem; classes_to_plot picks the classes drawn."""
    chart = mytrack.plot.roc_curve(Y, S, classes_to_plot=[1])
    assert chart.table.columns == ["class", "fpr", "tpr"]
    assert chart.table.data == [[1, 0.0, 0.0], [1, 0.0, 0.5], [1, 0.5, 0.5], [1, 0.5, 1.0], [1, 1.0, 1.0]]


def test_y_true_given_as_labels() -> None:
    """y_true may hold label values instead of class indices."""
    chart = mytrack.plot.roc_curve(["b", "a", "b"], [[0.2, 0.8], [0.7, 0.3], [0.4, 0.6]], labels=["a", "b"])
    assert [row for row in chart.table.data if row[0] == "b"] == [
        ["b", 0.0, 0.0], ["b", 0.0, 0.5], ["b", 0.0, 1.0], ["b", 1.0, 1.0]
    ]


def test_confusion_matrix_counts() -> None:
    """confusion_matrix counts every (actual, predicted) pair, actual-major, zero cells included."""
    chart = mytrack.plot.confusion_matrix(y_true=[0, 1, 2, 2, 1], preds=[0, 2, 2, 2, 1],
                                          class_names=["a", "b", "c"])
    assert chart.table.columns == ["Actual", "Predicted", "nPredictions"]
    assert chart.table.data == [
        ["a", "a", 1], ["a", "b", 0], ["a", "c", 0],
        ["b", "a", 0], ["b", "b", 1], ["b", "c", 1],
        ["c", "a", 0], ["c", "b", 0], ["c", "c", 2],
    ]


def test_confusion_matrix_from_probs_default_names() -> None:
    """probs are reduced by argmax; default names are Class_1, Class_2..."""
    chart = mytrack.plot.confusion_matrix(probs=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], y_true=[0, 1, 1])
    assert chart.table.data == [
        ["Class_1", "Class_1", 1], ["Class_1", "Class_2", 0],
        ["Class_2", "Class_1", 1], ["Class_2", "Class_2", 1],
    ]


def test_line_series_and_table_charts() -> None:
    """line_series makes one row per point; line/scatter/bar/histogram keep the table and name its columns."""
    chart = mytrack.plot.line_series([0, 1], [[10, 11], [20, 21]], keys=["a", "b"], xname="epoch")
    assert chart.table.data == [["a", 0, 10], ["a", 1, 11], ["b", 0, 20], ["b", 1, 21]]
    assert chart.spec["fields"] == {"x": "step", "y": "lineVal", "stroke": "lineKey", "xname": "epoch"}
    table = mytrack.Table(columns=["x", "y"], data=[[1, 2], [3, 4]])
    assert mytrack.plot.line(table, "x", "y").spec["fields"] == {"x": "x", "y": "y", "stroke": None}
    assert mytrack.plot.scatter(table, "x", "y").table is table
    assert mytrack.plot.bar(table, "x", "y").spec["chart"] == "bar"
    assert mytrack.plot.histogram(table, "y").spec["fields"] == {"value": "y"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mytrack.plot.line(mytrack.Table(columns=["x"]), "x", "nope"), "no column 'nope'"),
        (lambda: mytrack.plot.scatter([[1, 2]], "x", "y"), "expects a mytrack.Table"),
        (lambda: mytrack.plot.pr_curve([0, 1], [[0.5, 0.5]]), "one y_true per row"),
        (lambda: mytrack.plot.pr_curve([0, 3], [[0.5, 0.5], [0.1, 0.9]]), "class indices from 0 to 1"),
        (lambda: mytrack.plot.roc_curve([0, 1], [[0.5, 0.5], [0.1, 0.9]], labels=["a"]), "one label per column"),
        (lambda: mytrack.plot.confusion_matrix(y_true=[0, 1]), "exactly one of probs= or preds="),
        (lambda: mytrack.plot.confusion_matrix(y_true=[0, -1], preds=[0, 0]), "class indices from 0"),
        (lambda: mytrack.plot.line_series([0, 1], [[1, 2, 3]]), "3 y values for 2 x values"),
    ],
)
def test_bad_arguments_name_the_expected_form(call, message) -> None:  # type: ignore[no-untyped-def]
    """Each plot helper refuses malformed input with a ValueError saying what it expects."""
    with pytest.raises(InvalidValueError, match=message):
        call()
