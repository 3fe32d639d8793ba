"""Coalesced, diffed, batched writes of CEM values back onto CRM contacts.

Values are kept in their JSON form (datetimes as ISO strings) in the store;
only fields whose value differs from what we last wrote are sent, and a
contact whose values did not change is not written at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from adapters.base import FieldUpdate
from adapters.fields import FIELDS_BY_KEY
from cem_engine.model import Profile

# `updated_at` changes on every write by definition, so it never makes a write necessary.
VOLATILE_KEYS = frozenset({"updated_at"})
# Time-decayed numbers drift a little between two analyses of the same history; a rep (or a CRM
# workflow triggered by the field) should see a change only when it means something.
NUMERIC_TOLERANCE = {"emotion_score": 1.0, "emotion_trend": 1.0, "churn_risk": 1}
# Some stage entry dates are derived from the analysis time (e.g. at_risk "since the trend window
# began"), so they move by the seconds between two analyses; within a day that is not a new date.
DATETIME_TOLERANCE = {"journey_stage_since": timedelta(days=1)}


def desired_values(profile: Profile, now: datetime) -> dict[str, Any]:
    """The profile's field values in JSON form."""
    values = profile.fields(updated_at=now)
    return {key: _to_json(value) for key, value in values.items() if key not in VOLATILE_KEYS}


def changed_fields(desired: Mapping[str, Any], written: Mapping[str, Any] | None) -> dict[str, Any]:
    """The subset of ``desired`` that differs from what is on the CRM according to our ledger."""
    if not written:
        return dict(desired)
    return {k: v for k, v in desired.items() if k not in VOLATILE_KEYS and _differs(k, v, written.get(k))}


def _differs(key: str, new: Any, old: Any) -> bool:
    tolerance = NUMERIC_TOLERANCE.get(key)
    if tolerance is not None and isinstance(new, int | float) and isinstance(old, int | float):
        return abs(new - old) >= tolerance
    window = DATETIME_TOLERANCE.get(key)
    if window is not None and isinstance(new, str) and isinstance(old, str):
        try:
            return abs(datetime.fromisoformat(new) - datetime.fromisoformat(old)) >= window
        except (TypeError, ValueError):  # unparsable or naive vs aware: compare as text
            return new != old
    return new != old


def field_update(contact_id: str, values: Mapping[str, Any], now: datetime) -> FieldUpdate:
    """Values turned back into Python types (datetimes) for the adapter, plus `updated_at`."""
    native = {key: _from_json(key, value) for key, value in values.items()}
    native["updated_at"] = now
    return FieldUpdate(contact_id=contact_id, values=native)


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(key: str, value: Any) -> Any:
    spec = FIELDS_BY_KEY.get(key)
    if spec is not None and spec.type == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
