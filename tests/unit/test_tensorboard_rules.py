"""Unit tests for TensorBoard sync's rules: W&B's key prefix guess and histograms as mytrack's."""

from __future__ import annotations

from mytrack._internal.tensorboard.patching import namespace
from mytrack_common.tensorboard import TBHistogram
from mytrack_service.apply.tensorboard import MAX_BINS, histogram


def test_namespace_with_a_root_logdir_is_the_path_below_it() -> None:
    """root_logdir given: the log dir's path below it; the root itself or a dir outside it: no prefix."""
    assert namespace("/r/a/b", "/r", []) == "a/b"
    assert namespace("/r", "/r", []) == ""
    assert namespace("/elsewhere/x", "/r", []) == ""


def test_namespace_guess_follows_wandb() -> None:
    """Without root_logdir: a lone dir is a prefix only if named train/validation; later dirs get their
    path below the common parent of the dirs seen."""
    assert namespace("/w/logs/train", "", []) == "train"
    assert namespace("/w/runs/exp1", "", []) == ""
    assert namespace("/w/logs/val", "", ["/w/logs/train"]) == "val"
    assert namespace("/w/logs/val/sub", "", ["/w/logs/train"]) == "val/sub"


def test_histogram_cuts_empty_outer_buckets() -> None:
    """Empty buckets at either end go; the counts and edges that hold data stay, edges one more than counts."""
    h = histogram(TBHistogram(bins=(0, 1, 2, 3, 4, 5), counts=(0, 2, 0, 3, 0)))
    assert h == {"_type": "histogram", "values": [2, 0, 3], "bins": [1, 2, 3, 4]}


def test_histogram_with_too_many_buckets_is_merged_to_at_most_512() -> None:
    """1,500 buckets merge neighbours into at most MAX_BINS, keeping the total count and the range."""
    n = 1500
    h = histogram(TBHistogram(bins=tuple(float(i) for i in range(n + 1)), counts=tuple(1.0 for _ in range(n))))
    assert len(h["values"]) <= MAX_BINS and len(h["bins"]) == len(h["values"]) + 1
    assert sum(h["values"]) == n and (h["bins"][0], h["bins"][-1]) == (0.0, float(n))
