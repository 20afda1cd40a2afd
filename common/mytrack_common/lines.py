"""Console text into stored lines: newline splitting and carriage-return collapse.

A terminal shows a ``\\r`` update (tqdm, rich and friends redraw a progress
bar that way) by moving the cursor back; the stored log keeps only what the
line finally said, the text after the last ``\\r``. A ``\\r`` just before the
newline (Windows line ends) is dropped. A partial line is kept until its
newline comes or `LineAssembler.finish` is called; it never grows past
``max_line`` characters (a longer one is stored in pieces), and a ``\\r``
inside it drops what came before at once, so an endless progress bar costs
no memory.
"""

from __future__ import annotations

# (timestamp, stream, text without its newline)
Line = tuple[float, str, str]

MAX_LINE = 1 << 20


class LineAssembler:
    """Complete lines of one stream ("stdout" or "stderr"); not thread-safe."""

    def __init__(self, stream: str, max_line: int = MAX_LINE) -> None:
        self.stream = stream
        self.max_line = max_line
        self._pieces: list[str] = []  # the partial line, unjoined (many tiny writes)
        self._size = 0

    def feed(self, text: str, timestamp: float, out: list[Line]) -> None:
        """Adds ``text``; appends the lines it completes to ``out``."""
        if "\n" not in text:
            self._pieces.append(text)
            self._size += len(text)
            if "\r" in text or self._size > self.max_line:
                self._settle(timestamp, out)
            return
        first, *middle, last = text.split("\n")
        if self._pieces:
            self._pieces.append(first)
            first = "".join(self._pieces)
        out.append((timestamp, self.stream, _final(first)))
        for line in middle:
            out.append((timestamp, self.stream, _final(line)))
        self._pieces = [last] if last else []
        self._size = len(last)
        if "\r" in last or self._size > self.max_line:
            self._settle(timestamp, out)

    def finish(self, timestamp: float, out: list[Line]) -> None:
        """The partial line, if any, as a line of its own (at the end of capture)."""
        if self._pieces:
            text = _final("".join(self._pieces))
            self._pieces, self._size = [], 0
            out.append((timestamp, self.stream, text))

    @property
    def pending(self) -> int:
        """Characters of the partial line."""
        return self._size

    def _settle(self, timestamp: float, out: list[Line]) -> None:
        """Collapses the partial line at its last inner ``\\r``; splits an overlong one."""
        text = "".join(self._pieces)
        body = text.rstrip("\r")  # a trailing \r may still be a \r\n line end
        cut = body.rfind("\r")
        if cut >= 0:
            text = text[cut + 1:]
        while len(text) > self.max_line:
            out.append((timestamp, self.stream, text[: self.max_line]))
            text = text[self.max_line:]
        self._pieces = [text] if text else []
        self._size = len(text)


def _final(line: str) -> str:
    """What a terminal line finally shows: the text after its last inner ``\\r``."""
    if "\r" not in line:
        return line
    body = line.rstrip("\r")
    return body[body.rfind("\r") + 1:]
