"""`chunks.append_values`: appending to an encoded chunk gives the bytes of encoding the whole."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mytrack_service.store.chunks import append_values, decode_values, encode_values

_VALUES = st.one_of(
    st.floats(allow_nan=True), st.integers(-2**53, 2**53), st.booleans(), st.none(),
    st.text(max_size=5), st.lists(st.floats(allow_nan=False), max_size=3),
)


@given(st.lists(_VALUES, min_size=1, max_size=6), st.lists(_VALUES, min_size=1, max_size=6))
def test_appended_bytes_equal_the_whole_encoded(old: list[Any], new: list[Any]) -> None:
    appended = append_values(encode_values(old), new)
    assert appended == encode_values([*old, *new])
    back = decode_values(appended)
    assert len(back) == len(old) + len(new)
    assert all(a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))
               for a, b in zip(back, [*old, *new], strict=True))
