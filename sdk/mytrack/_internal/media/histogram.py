"""``mytrack.Histogram``: counts and bin edges, stored inline in the history row."""

from __future__ import annotations

from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, to_numpy

MAX_BINS = 512


class Histogram(Media):
    """A histogram of ``sequence`` (``num_bins`` equal bins over its range, as
    ``np.histogram``), or a ready one: ``np_histogram=(counts, edges)``.

    At most 512 bins. The row holds ``{"_type": "histogram", "values":
    counts, "bins": edges}``.
    """

    type_name = "histogram"

    def __init__(
        self, sequence: Any = None, np_histogram: Any = None, num_bins: int = 64
    ) -> None:
        self._sequence = sequence
        self._np_histogram = np_histogram
        self._num_bins = num_bins
        self._computed: tuple[list[Any], list[float]] | None = None

    @property
    def histogram(self) -> list[Any]:
        """The counts (computed on first use)."""
        return self._compute("")[0]

    @property
    def bins(self) -> list[float]:
        """The bin edges, one more than the counts."""
        return self._compute("")[1]

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        values, bins = self._compute(key)
        return {"_type": "histogram", "values": values, "bins": bins}

    def _compute(self, key: str) -> tuple[list[Any], list[float]]:
        if self._computed is None:
            if self._np_histogram is not None:
                self._computed = _given(key, self._np_histogram)
            else:
                self._computed = self._from_sequence(key)
        return self._computed

    def _from_sequence(self, key: str) -> tuple[list[Any], list[float]]:
        import numpy as np

        bins = self._num_bins
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
            raise bad(key, "Histogram", f"num_bins an int from 1 to {MAX_BINS}", repr(bins))
        if self._sequence is None:
            raise bad(key, "Histogram", "a sequence of numbers or np_histogram=(counts, edges)", "neither")
        try:
            values = to_numpy(self._sequence).reshape(-1)
        except (TypeError, ValueError):
            raise bad(key, "Histogram", "a sequence of numbers", type(self._sequence).__name__) from None
        if values.dtype.kind not in "biuf":
            raise bad(key, "Histogram", "a sequence of numbers", f"dtype {values.dtype}")
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise bad(key, "Histogram", "a sequence of finite numbers", "NaN or infinite values")
        counts, edges = np.histogram(values.astype(np.float64), bins=bins)
        return counts.tolist(), edges.tolist()


def _given(key: str, given: Any) -> tuple[list[Any], list[float]]:
    import numpy as np

    expected = f"np_histogram=(counts, edges) with at most {MAX_BINS} counts and one edge more"
    try:
        counts, edges = given
        counts = to_numpy(counts).reshape(-1)
        edges = to_numpy(edges).reshape(-1)
    except (TypeError, ValueError):
        raise bad(key, "Histogram", expected, type(given).__name__) from None
    if counts.dtype.kind not in "iuf" or edges.dtype.kind not in "iuf" or not 1 <= counts.size <= MAX_BINS \
            or edges.size != counts.size + 1:
        raise bad(key, "Histogram", expected, f"{counts.size} counts and {edges.size} edges")
    if not (np.isfinite(counts).all() and np.isfinite(edges).all()) or (np.diff(edges) < 0).any():
        raise bad(key, "Histogram", f"{expected}, finite, edges increasing", "other values")
    return counts.tolist(), edges.astype(np.float64).tolist()
