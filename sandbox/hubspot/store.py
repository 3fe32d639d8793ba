"""The sandbox portal's data: CRM objects with property history, property definitions and
groups, and associations. Thread-safe: the HTTP server answers on many threads."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .schema import (
    DEFAULT_GROUPS,
    OBJECT_TYPES,
    InvalidValue,
    PropertyDef,
    built_in_properties,
    iso_ms,
    normalise_value,
    stored_form,
)


@dataclass(frozen=True)
class Change:
    """Who changed a value: property history's sourceType / sourceId."""

    source_type: str  # CRM_UI, INTEGRATION, IMPORT, API ...
    source_id: str | None = None
    user_id: int | None = None


@dataclass
class HistoryEntry:
    value: str | None
    timestamp: str
    change: Change

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"value": self.value if self.value is not None else "", "timestamp": self.timestamp,
                                "sourceType": self.change.source_type}
        if self.change.source_id is not None:
            body["sourceId"] = self.change.source_id
        if self.change.user_id is not None:
            body["updatedByUserId"] = self.change.user_id
        return body


@dataclass
class StoredObject:
    id: str
    object_type: str
    properties: dict[str, str | None]
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    archived: bool = False

    def to_json(self, names: Iterable[str], with_history: Iterable[str] = ()) -> dict[str, Any]:
        """``SimplePublicObject``: requested properties (null when unset), history newest first."""
        body: dict[str, Any] = {
            "id": self.id,
            "properties": {name: self.properties.get(name) for name in names},
            "createdAt": self.created_at, "updatedAt": self.updated_at, "archived": self.archived,
        }
        history_names = list(with_history)
        if history_names:
            body["propertiesWithHistory"] = {
                name: [h.to_json() for h in reversed(self.history.get(name, []))] for name in history_names}
        return body


class HubSpotStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(101)
        self.objects: dict[str, dict[str, StoredObject]] = {name: {} for name in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {name: built_in_properties(name) for name in OBJECT_TYPES}
        self.groups: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECT_TYPES}
        for object_type, (group, label) in DEFAULT_GROUPS.items():
            self.groups[object_type][group] = {"name": group, "label": label, "displayOrder": 0, "archived": False}
        # (from type, from id, to type) -> associated ids in insertion order; both directions are stored
        self._associations: dict[tuple[str, str, str], list[str]] = {}

    # -- objects -----------------------------------------------------------------------------------------------
    def create(self, object_type: str, values: Mapping[str, Any], change: Change,
               at: datetime | None = None) -> StoredObject:
        """Store a new record as HubSpot would (the seed and interactions; no write validation)."""
        moment = at or datetime.now(UTC)
        stamp = iso_ms(moment)
        spec = OBJECT_TYPES[object_type]
        with self.lock:
            object_id = str(next(self._ids))
            record = StoredObject(object_id, object_type, {}, created_at=stamp, updated_at=stamp)
            definitions = self.properties[object_type]
            initial = {"hs_object_id": object_id, spec.created_property: stamp, spec.modified_property: stamp,
                       **{k: stored_form(definitions.get(k), v) for k, v in values.items()}}
            if object_type == "contacts":
                initial.setdefault("hs_lastmodifieddate", stamp)
            if spec.created_property != "hs_createdate":
                initial.setdefault("hs_createdate", initial[spec.created_property])
            for name, value in initial.items():
                record.properties[name] = value
                record.history[name] = [HistoryEntry(value, stamp, change)]
            self.objects[object_type][object_id] = record
            return record

    def get(self, object_type: str, object_id: str) -> StoredObject | None:
        with self.lock:
            record = self.objects[object_type].get(str(object_id))
            return record if record and not record.archived else None

    def find_by(self, object_type: str, property_name: str, value: str) -> StoredObject | None:
        """Look up by a unique property (``idProperty``), e.g. email."""
        with self.lock:
            for record in self.objects[object_type].values():
                if not record.archived and record.properties.get(property_name) == value:
                    return record
            return None

    def live(self, object_type: str) -> list[StoredObject]:
        """Every non-archived record, in id order (HubSpot's list order)."""
        with self.lock:
            return sorted((r for r in self.objects[object_type].values() if not r.archived), key=lambda r: int(r.id))

    def validate(self, object_type: str, values: Mapping[str, Any]) -> tuple[dict[str, str | None], list[InvalidValue]]:
        with self.lock:
            definitions = self.properties[object_type]
            clean: dict[str, str | None] = {}
            errors: list[InvalidValue] = []
            for name, raw in values.items():
                value, error = normalise_value(definitions.get(name), name, raw)
                if error:
                    errors.append(error)
                else:
                    clean[name] = value
            return clean, errors

    def apply(self, record: StoredObject, clean: Mapping[str, str | None], change: Change,
              at: datetime | None = None) -> list[str]:
        """Write validated values; returns the names whose value actually changed."""
        stamp = iso_ms(at or datetime.now(UTC))
        spec = OBJECT_TYPES[record.object_type]
        changed: list[str] = []
        with self.lock:
            for name, value in clean.items():
                if record.properties.get(name) == value and name in record.history:
                    continue  # HubSpot records no history entry for an unchanged value
                record.properties[name] = value
                record.history.setdefault(name, []).append(HistoryEntry(value, stamp, change))
                changed.append(name)
            if changed:
                record.updated_at = stamp
                record.properties[spec.modified_property] = stamp
                if record.object_type == "contacts":
                    record.properties["hs_lastmodifieddate"] = stamp
        return changed

    def archive(self, object_type: str, object_id: str) -> bool:
        with self.lock:
            record = self.objects[object_type].get(str(object_id))
            if not record or record.archived:
                return False
            record.archived = True
            record.updated_at = iso_ms(datetime.now(UTC))
            return True

    # -- associations ------------------------------------------------------------------------------------------
    def associate(self, type_a: str, id_a: str, type_b: str, id_b: str) -> None:
        with self.lock:
            for key, other in (((type_a, id_a, type_b), id_b), ((type_b, id_b, type_a), id_a)):
                targets = self._associations.setdefault(key, [])
                if other not in targets:
                    targets.append(other)

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        """Ids of live ``to_type`` records associated with the record, ascending like HubSpot pages them."""
        with self.lock:
            ids = self._associations.get((from_type, str(from_id), to_type), [])
            return sorted((i for i in ids if self.get(to_type, i)), key=int)

    # -- properties --------------------------------------------------------------------------------------------
    def property(self, object_type: str, name: str) -> PropertyDef | None:
        with self.lock:
            return self.properties[object_type].get(name)
