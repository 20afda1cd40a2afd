"""A histogram key over the steps of a run, as W&B draws it: a heatmap of step x bins.

    GET /api/runs/E/P/ID/histograms?key=K[&steps=500][&bins=64]

Each logged histogram (``{"_type": "histogram", "values": counts, "bins": edges}``)
may have its own edges. When every one has the same edges they are kept as they
are; otherwise all are moved onto ``bins`` equal bins over the range of them all,
each count spread over the new bins it overlaps in proportion to the overlap (as
if its values were uniform inside its bin), so a column's total is its
histogram's total. At most ``steps`` histograms, evenly spread, the last kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mytrack_service.store.base import MetadataStore, RunKey
from mytrack_service.web.responses import ApiError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MAX_STEPS = 500
DEFAULT_BINS = 64


def heatmap(store: MetadataStore, key: RunKey, query: Mapping[str, str]) -> dict[str, Any]:
    import numpy as np

    name = query.get("key")
    if not name:
        raise ApiError(400, "the query parameter 'key' is required")
    max_steps = _bounded(query, "steps", MAX_STEPS, 2, 2000)
    bins = _bounded(query, "bins", DEFAULT_BINS, 2, 512)
    if store.get_run(key) is None:
        raise ApiError(404, f"run {key.path} not found")
    found: list[tuple[int, NDArray[np.float64], NDArray[np.float64]]] = []
    for row in store.read_history(key, [name]):
        parsed = _histogram(row.get(name))
        if parsed is not None:
            found.append((int(row["_step"]), *parsed))
    total = len(found)
    if total > max_steps:
        last = total - 1
        found = [found[round(i * last / (max_steps - 1))] for i in range(max_steps)]
    if not found:
        return {"key": name, "steps": [], "edges": [], "counts": [], "total_steps": 0}
    first_edges = found[0][2]
    same = all(len(e) == len(first_edges) and np.array_equal(e, first_edges) for _, _, e in found)
    if same:
        edges = first_edges
    else:
        low = min(float(e[0]) for _, _, e in found)
        high = max(float(e[-1]) for _, _, e in found)
        edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = [c if same else rebin(c, e, edges) for _, c, e in found]
    return {
        "key": name, "total_steps": total, "steps": [s for s, _, _ in found],
        "edges": edges.tolist(), "counts": [c.tolist() for c in counts],
    }


def rebin(
    counts: NDArray[np.float64], edges: NDArray[np.float64], new_edges: NDArray[np.float64],
) -> NDArray[np.float64]:
    """``counts`` over ``edges`` spread onto ``new_edges`` (uniform inside each old bin)."""
    import numpy as np

    cumulative = np.concatenate([[0.0], np.cumsum(counts)])
    if edges[-1] <= edges[0]:  # one point-like bin: all of it where it is
        return np.diff(np.where(new_edges >= edges[0], cumulative[-1], 0.0))
    result: NDArray[np.float64] = np.diff(np.interp(new_edges, edges, cumulative))
    return result


def _histogram(value: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    import numpy as np

    if not isinstance(value, Mapping) or value.get("_type") != "histogram":
        return None
    try:
        counts = np.asarray(value.get("values"), dtype=np.float64)
        edges = np.asarray(value.get("bins"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if counts.ndim != 1 or edges.shape != (len(counts) + 1,) or not np.isfinite(edges).all():
        return None
    if np.any(np.diff(edges) < 0):
        return None
    return np.nan_to_num(counts, nan=0.0, posinf=0.0, neginf=0.0), edges


def _bounded(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if not text:
        return default
    try:
        return min(high, max(low, int(text)))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {text!r}") from None
