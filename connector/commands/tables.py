"""Terminal tables that stay readable at any width (80 columns included).

Each column says how important it is; when the console is too narrow for every column at its
minimum width, the least important columns are left out (and named in the caption) instead of
being squeezed to nothing. Text columns wrap at word boundaries (rich's own wrapping); only
columns of unbreakable values (URLs) fold. Long ids are shortened just enough to stay unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.table import Table
from rich.text import Text

# a column costs its width plus 3 characters (a border and two padding spaces); the table one more border
_COLUMN_OVERHEAD = 3


@dataclass(frozen=True)
class Column:
    header: str
    min_width: int = 4
    priority: int = 0  # 0 = always shown; higher numbers are left out first on narrow consoles
    max_width: int | None = None  # longer values end in an ellipsis (columns that do not wrap: 30)
    wrap: bool = False  # prose: wraps at word boundaries; other columns hold short values on one line
    fold: bool = False  # an unbreakable value (URL): break it anywhere rather than cut it
    justify: Literal["left", "right", "center"] = "left"

    @property
    def flexible(self) -> bool:
        return self.wrap or self.fold

    @property
    def cap(self) -> int | None:
        return self.max_width if self.max_width or self.flexible else 30


def fitted_table(columns: Sequence[Column], rows: Iterable[Sequence[str]], width: int, *, title: str | None = None,
                 more: str = "--json shows every column") -> Table:
    """A rich Table with the columns that fit ``width``; rows hold one cell per column in ``columns``."""
    rows = [list(row) for row in rows]  # type: ignore[assignment]
    needed = [_needed(column, [row[i] for row in rows]) for i, column in enumerate(columns)]
    kept = list(range(len(columns)))
    while len(kept) > 1 and sum(needed[i] + _COLUMN_OVERHEAD for i in kept) + 1 > width:
        drop = max(kept, key=lambda i: (columns[i].priority, i))
        if columns[drop].priority == 0:
            break
        kept.remove(drop)
    hidden = [c.header for i, c in enumerate(columns) if i not in kept]
    caption = f"Not shown at this width: {', '.join(hidden)} ({more})." if hidden else None
    table = Table(title=title, caption=caption, caption_justify="left")
    for i in kept:
        column = columns[i]
        # only prose and URL columns may shrink: rich then narrows those and never squeezes a short value
        table.add_column(column.header, min_width=needed[i], max_width=column.cap, justify=column.justify,
                         no_wrap=not column.flexible, overflow="fold" if column.fold else "ellipsis")
    for row in rows:
        table.add_row(*(row[i] for i in kept))
    return table


def _needed(column: Column, cells: list[str]) -> int:
    """The narrowest a column may become. Prose: its header's and cells' longest word (up to 24; longer
    words end in an ellipsis). URLs: the header's longest word (values fold). Short values: the whole
    header and the longest line of a cell, up to the column's cap."""
    header_words = max(len(word) for word in column.header.split())
    if column.fold:
        return max(column.min_width, header_words)
    plain = [Text.from_markup(str(cell)).plain for cell in cells]
    if column.wrap:
        words = [len(word) for text in plain for word in text.split()]
        return max(column.min_width, header_words, min(max(words, default=0), 24))
    lines = [len(line) for text in plain for line in text.splitlines()]
    return max(column.min_width, len(column.header), min(max(lines, default=0), column.cap or 30))


def short_ids(ids: Iterable[str], *, shortest: int = 8) -> dict[str, str]:
    """Each id shortened to a prefix or suffix that is still unique among ``ids`` (like git's short
    hashes). GUIDs differ at the start, Salesforce ids (``0038d00000...``) at the end."""
    unique = list(dict.fromkeys(ids))
    longest = max((len(i) for i in unique), default=0)
    for length in range(shortest, longest):
        for take, mark in ((lambda s, n: s[:n], lambda s: s + "…"), (lambda s, n: s[-n:], lambda s: "…" + s)):
            parts = [take(i, length) for i in unique]
            if len(set(parts)) == len(parts):
                return {i: (mark(p) if len(i) > length + 1 else i) for i, p in zip(unique, parts, strict=True)}
    return {i: i for i in unique}


def clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters, cut at a word boundary (never mid-word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip(",;:.") + "…"
