"""LineAssembler: console text into stored lines (newlines, \\r collapse, partial lines, bounds)."""

from __future__ import annotations

from mytrack_common.lines import Line, LineAssembler


def feed(*chunks: str, finish: bool = False, max_line: int = 1 << 20) -> list[str]:
    assembler = LineAssembler("stdout", max_line=max_line)
    out: list[Line] = []
    for i, chunk in enumerate(chunks):
        assembler.feed(chunk, float(i), out)
    if finish:
        assembler.finish(99.0, out)
    return [text for _, _, text in out]


def test_lines_split_on_newlines_across_chunks() -> None:
    """A line split over several writes is one line; several lines in one write are several."""
    assert feed("hel", "lo\nwor", "ld\n", "a\nb\nc\n") == ["hello", "world", "a", "b", "c"]


def test_carriage_return_updates_collapse_to_the_final_text() -> None:
    """A tqdm-style bar redrawn with \\r is stored as its last state only."""
    bar = ["\r  0%|          |", "\r 50%|#####     |", "\r100%|##########|", "\n"]
    assert feed(*bar) == ["100%|##########|"]
    assert feed("a\rb\rc\n") == ["c"]


def test_carriage_return_before_newline_is_a_line_end() -> None:
    """\\r\\n (even split between writes) ends a line without erasing it."""
    assert feed("windows\r\n") == ["windows"]
    assert feed("split\r", "\n") == ["split"]
    assert feed("x\r\r", "\n") == ["x"]


def test_partial_line_waits_for_its_newline_or_the_finish() -> None:
    """A line without newline is not emitted until one comes, and is flushed at finish."""
    assert feed("no newline") == []
    assert feed("no newline", finish=True) == ["no newline"]
    assert feed("a\n", "tail", finish=True) == ["a", "tail"]
    assert feed("bar 10%\r", "bar 20%", finish=True) == ["bar 20%"]


def test_partial_line_memory_is_bounded() -> None:
    """An endless \\r bar keeps only its current state; an overlong line is stored in pieces."""
    assembler = LineAssembler("stderr")
    out: list[Line] = []
    for i in range(10_000):
        assembler.feed(f"\rstep {i}", 0.0, out)
    assert out == [] and assembler.pending < 20
    assert feed("x" * 25, "\n", max_line=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_lines_carry_stream_and_timestamp_of_their_completion() -> None:
    """Each line has the time of the write that completed it and the assembler's stream."""
    assembler = LineAssembler("stderr")
    out: list[Line] = []
    assembler.feed("first part ", 1.0, out)
    assembler.feed("second\n", 2.0, out)
    assert out == [(2.0, "stderr", "first part second")]
