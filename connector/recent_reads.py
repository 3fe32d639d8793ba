"""What this worker process last read of a contact, so that a property edit need not re-read its history.

A refresh normally reads a contact with all its interactions and deals: on HubSpot that is ~22 calls a
round (one batch read per engagement type and its associations). When every change since the contact's
last read was an edit of its own record (``ChangeEvent.record_only``: a lifecycle stage, an owner), the
interactions and deals cannot have moved, and the refresh reads only the record (HubSpot: one batch read)
and analyses it with the history read before (at a steady 200 events/s over 100 contacts: 49 -> ~25 calls
per 1,000 events, bench.calls).

The history is reused only while it is younger than ``MAX_AGE``: an interaction edited in the CRM without
a webhook (HubSpot sends none for a note's edit) still shows within that time of the next change. An
entry also records the ``read_at`` of the analysis it produced; the refresh commits its result only if
the stored analysis is still that one (``connector.jobs``), so a newer read by another worker is never
overwritten with older history. Entries live in process memory only, bounded in number and age;
``forget`` and a changed connection drop them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cem_engine.model import ContactFacts, ContactInput

MAX_AGE = 60.0  # seconds a history read stays reusable
MAX_ENTRIES = 2_000  # contacts per process (a contact's history is a few KB to ~50 KB of text)


@dataclass(frozen=True)
class RecentRead:
    data: ContactInput
    read_at: datetime  # the stored analysis this read produced (ContactAnalysis.read_at)
    history_read_at: datetime  # when the interactions and deals were read
    history_monotonic: float

    def with_record(self, contact: ContactFacts, read_at: datetime) -> RecentRead:
        """The same history with a newly read record."""
        return RecentRead(ContactInput(contact=contact, deals=self.data.deals, interactions=self.data.interactions),
                          read_at, self.history_read_at, self.history_monotonic)


class RecentReads:
    def __init__(self, max_age: float = MAX_AGE, max_entries: int = MAX_ENTRIES) -> None:
        self.max_age, self.max_entries = max_age, max_entries
        self._entries: OrderedDict[tuple[int, str], RecentRead] = OrderedDict()

    def remember(self, connection_id: int, contact_id: str, data: ContactInput, read_at: datetime) -> None:
        """A full read (record, interactions and deals) whose analysis was stored with ``read_at``."""
        self.put(connection_id, contact_id, RecentRead(data, read_at, read_at, time.monotonic()))

    def put(self, connection_id: int, contact_id: str, entry: RecentRead) -> None:
        key = (connection_id, contact_id)
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def usable(self, connection_id: int, contact_ids: Iterable[str]) -> dict[str, RecentRead]:
        """The contacts whose history was read less than ``max_age`` ago."""
        now = time.monotonic()
        found: dict[str, RecentRead] = {}
        for contact_id in contact_ids:
            entry = self._entries.get((connection_id, contact_id))
            if entry is None:
                continue
            if now - entry.history_monotonic >= self.max_age:
                del self._entries[(connection_id, contact_id)]
                continue
            found[contact_id] = entry
        return found

    def drop(self, connection_id: int, contact_id: str | None = None) -> None:
        """Forget one contact, or (``contact_id`` None) everything read through a connection."""
        if contact_id is not None:
            self._entries.pop((connection_id, contact_id), None)
            return
        for key in [k for k in self._entries if k[0] == connection_id]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
