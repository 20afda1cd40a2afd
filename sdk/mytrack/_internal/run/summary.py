"""Run summary: the last value of each key, or what the user set.

Reads ask the service (after the sender's queue is delivered), because the
summary is computed there (define_metric aggregates); writes are records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mytrack._internal.run.values import check_key, convert_value

Fetch = Callable[[], dict[str, Any]]
Publish = Callable[[dict[str, Any], list[str]], None]


class Summary:
    """Dict-like: ``summary["best_acc"] = 0.9``, ``update()``, ``del``, ``keys()``."""

    def __init__(self, fetch: Fetch, publish: Publish, recording: bool = True) -> None:
        self._fetch = fetch
        self._publish = publish
        self._recording = recording  # False for a disabled run: accept, check nothing

    def __getitem__(self, key: str) -> Any:
        return self._fetch()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._fetch().get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: dict[str, Any] | None = None, **kwargs: Any) -> None:
        items = dict(d or {}, **kwargs)
        checked = {check_key(k, "summary"): convert_value(v, k) for k, v in items.items()}
        if checked:
            self._publish(checked, [])

    def __delitem__(self, key: str) -> None:
        if self._recording and key not in self._fetch():
            raise KeyError(key)
        self._publish({}, [key])

    def __contains__(self, key: object) -> bool:
        return key in self._fetch()

    def __iter__(self) -> Iterator[str]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def keys(self) -> Any:
        return self._fetch().keys()

    def items(self) -> Any:
        return self._fetch().items()

    def values(self) -> Any:
        return self._fetch().values()

    def as_dict(self) -> dict[str, Any]:
        return self._fetch()

    def __repr__(self) -> str:
        return f"Summary({self._fetch()!r})"
