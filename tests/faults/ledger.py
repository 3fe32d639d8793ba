"""Counting from the CRM's side: which webhooks went out, which writes reached a contact, and
whether each write changed anything (a write that changes nothing is a duplicate).

The counters wrap the sandbox store's own update method on the instance, so they see every write
however it arrived (single PATCH, HubSpot batch, Salesforce composite, Dataverse ``$batch``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Captured:
    url: str
    body: bytes
    content_type: str
    headers: dict[str, str]


class CaptureSender:
    """Stands in for a sandbox's webhook sender: keeps deliveries instead of sending them."""

    def __init__(self) -> None:
        self.deliveries: list[Captured] = []

    def send(self, url: str, body: bytes, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Captured:
        delivery = Captured(url, body, content_type, dict(headers or {}))
        self.deliveries.append(delivery)
        return delivery

    def pending(self) -> int:
        return 0

    def wait_idle(self, timeout: float = 0.0) -> bool:
        return True

    def stop(self) -> None:
        return None


def events_in(platform: str, body: bytes) -> int:
    """How many change events one delivery carries (HubSpot: a JSON array; Salesforce: Notification
    elements; Dataverse: one execution context per request)."""
    if platform == "hubspot":
        try:
            data = json.loads(body)
        except ValueError:
            return 0
        return len(data) if isinstance(data, list) else 0
    if platform == "salesforce":
        return len(re.findall(rb"<(?:\w+:)?Notification>", body))
    return 1


@dataclass
class Write:
    at: float
    values: dict[str, Any]
    changed: bool  # False: every CEM value was already on the record


@dataclass
class WriteCounter:
    platform: str
    sandbox: Any
    adapter: Any
    writes: dict[str, list[Write]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.native = {self.adapter.native_field_name(spec): spec.key for spec in self.adapter.fields}
        self.native_lower = {name.lower(): key for name, key in self.native.items()}
        getattr(self, f"_wrap_{self.platform}")()

    # -- per-platform hooks on the sandbox's store -------------------------------------------------
    def _wrap_hubspot(self) -> None:
        store = self.sandbox.store
        original = store.apply

        def apply(record: Any, clean: Any, change: Any, at: Any = None) -> Any:
            if record.object_type == "contacts":
                self._observe(str(record.id), dict(clean), dict(record.properties))
            return original(record, clean, change, at)

        store.apply = apply

    def _wrap_salesforce(self) -> None:
        store = self.sandbox.store
        original = store.update

        def update(sobject: str, record_id: str, values: Any, *, user_id: str | None) -> None:
            if sobject == "Contact":
                current = store.get(sobject, record_id) or {}
                self._observe(str(record_id)[:15], dict(values), dict(current))
            return original(sobject, record_id, values, user_id=user_id)

        store.update = update

    def _wrap_dynamics(self) -> None:
        org = self.sandbox.org
        original = org.update

        def update(entity_set: str, record_id: str, values: Any, *, user_id: str, notify: bool = True) -> None:
            if entity_set == "contacts":
                current = org.rows[entity_set].get(record_id.lower()) or {}
                self._observe(record_id.lower(), dict(values), dict(current))
            return original(entity_set, record_id, values, user_id=user_id, notify=notify)

        org.update = update

    def _key(self, contact_id: str) -> str:
        return contact_id[:15] if self.platform == "salesforce" else contact_id.lower()

    def _observe(self, contact_id: str, values: dict[str, Any], current: dict[str, Any]) -> None:
        lower_current = {str(k).lower(): v for k, v in current.items()}
        cem = {self.native_lower[name.lower()]: value for name, value in values.items()
               if name.lower() in self.native_lower}
        if not cem:
            return  # a user's edit of ordinary fields, not a CEM write
        changed = any(not _same(value, lower_current.get(name.lower()))
                      for name, value in values.items()
                      if name.lower() in self.native_lower and self.native_lower[name.lower()] != "updated_at")
        with self._lock:
            self.writes[self._key(contact_id)].append(Write(time.monotonic(), cem, changed))

    # -- reading ---------------------------------------------------------------------------------------
    def of(self, contact_id: str) -> list[Write]:
        with self._lock:
            return list(self.writes.get(self._key(contact_id), []))

    def total(self) -> int:
        with self._lock:
            return sum(len(w) for w in self.writes.values())

    def noop_writes(self) -> int:
        with self._lock:
            return sum(1 for writes in self.writes.values() for w in writes if not w.changed)

    def duplicates(self, per_contact: Mapping[str, int]) -> int:
        """Writes that changed nothing, plus every write of a contact beyond its first."""
        return self.noop_writes() + sum(max(0, n - 1) for n in per_contact.values())


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None and b is None) or str(a or "") == str(b or "")
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return str(a).rstrip("Z").replace("+00:00", "") == str(b).rstrip("Z").replace("+00:00", "")

