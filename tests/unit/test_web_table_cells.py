"""The runs table's cells: the one-pass flatten shows exactly what redacting, then flattening, showed."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mytrack_common.secrets import redact_mapping
from mytrack_service.store.base import RunKey, RunRow
from mytrack_service.web.table_columns import Cells, flatten

_NAMES = st.sampled_from(["lr", "token", "db", "password", "auth", "author", "_type", "max_tokens", "x"])
_LEAVES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300)
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=4),
                       max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=6))
def test_config_cells_equal_redact_then_flatten(config: dict[str, Any]) -> None:
    """Secret-looking keys (nested, in lists too) show "***"; everything else as flattened before."""
    cells = Cells(RunRow(RunKey("e", "p", "r"), config=config))
    assert cells.of("config") == flatten(redact_mapping(config))


def test_opted_out_run_shows_its_config() -> None:
    """A run recorded with redact_secrets=False shows its secret-looking values."""
    run = RunRow(RunKey("e", "p", "r"), config={"db": {"password": "hunter2"}}, metadata={"redact_secrets": False})
    assert Cells(run).of("config") == {"db.password": "hunter2"}
    assert Cells(RunRow(RunKey("e", "p", "r"), config={"db": {"password": "x"}})).of("config") == {"db.password": "***"}
