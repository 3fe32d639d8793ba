"""Bounded memo tables for pure per-text work: cleaned bodies, sentence scores, embeddings, message readings.

CRM text repeats a lot ("Thanks!", "Any update?", templated ticket subjects, the same sentence in a reply and
in the rep's note), and scoring or embedding a sentence is the engine's main cost. Each table maps the *exact*
text to what a fresh computation returns; keys are never normalised, because a value must be bit-for-bit the
one the computation would give, so memoising never changes a result. Tables are per scorer or model (a
different config or model never shares entries), bounded (least recently used out first) and safe to share
between threads. ``clear_caches`` empties them all (benchmarks measuring first sight of a text use it).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

# Long texts rarely repeat and would make the bound on entries a loose bound on memory.
MAX_KEY_CHARS = 1000
_TABLES: weakref.WeakSet[Memo] = weakref.WeakSet()
_TABLES_LOCK = threading.RLock()


class Memo:
    """A least-recently-used map from a text (or a tuple of texts) to a computed value."""

    def __init__(self, limit: int, *, max_key_chars: int = MAX_KEY_CHARS) -> None:
        self.limit = limit
        self.max_key_chars = max_key_chars
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        with _TABLES_LOCK:
            _TABLES.add(self)

    def get(self, key: Hashable) -> Any:
        """The value stored for ``key``, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any, chars: int | None = None) -> None:
        """Store ``value``; a key longer than the table's limit (``chars``: its length in characters when it
        is not a str) is not stored."""
        if (len(key) if isinstance(key, str) else chars or 0) > self.max_key_chars:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_caches() -> None:
    """Forget every memoised score and embedding (results stay the same; only the cost changes)."""
    with _TABLES_LOCK:
        tables = list(_TABLES)
    for table in tables:
        table.clear()


def memo_for(tables: dict[str, Memo], owner: str, limit: int, *, owners: int = 8) -> Memo:
    """The memo table of ``owner`` (an engine config's fingerprint) in ``tables``, made on first use; at most
    ``owners`` are kept (the oldest goes)."""
    table = tables.get(owner)
    if table is None:
        with _TABLES_LOCK:
            table = tables.get(owner)
            if table is None:
                if len(tables) >= owners:
                    tables.pop(next(iter(tables)))
                table = tables[owner] = Memo(limit)
    return table
