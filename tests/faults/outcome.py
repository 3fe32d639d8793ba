"""What a scenario reports: one row, and the oracle that decides "applied" and "lost".

"Lost" is judged against a clean run: the contact's final CRM state, read again and analysed at the
moment the connector analysed it, must give the values that are on the CRM record now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cem_engine import analyze
from connector.store import ContactAnalysis, WrittenValues
from connector.writeback import NUMERIC_TOLERANCE, desired_values

COMPARED_KEYS = ("journey_stage", "emotion", "churn_reason", "churn_risk", "emotion_score")


@dataclass
class Row:
    scenario: str
    platform: str
    sent: int = 0  # webhook events the CRM sent (every copy counts)
    applied: int = 0  # contacts whose CRM record holds the values a clean run computes
    lost: int = 0  # contacts that should have been written and are not (or hold other values)
    duplicates: int = 0  # CEM writes that changed nothing on the record, plus extra ledger writes
    ok: bool = False
    detail: str = ""
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "PASS" if self.ok else "FAIL"


@dataclass
class ContactCheck:
    applied: list[str]
    lost: dict[str, str]  # contact -> what differs
    ledger_writes: dict[str, int]

    @property
    def extra_ledger_writes(self) -> int:
        return sum(max(0, n - 1) for n in self.ledger_writes.values())


def clean_values(world: Any, data: Any, at: datetime | None) -> dict[str, Any]:
    moment = at or datetime.now(UTC)
    return desired_values(analyze(data, now=moment, config=world.runtime.engine_config), moment)


def check_contacts(world: Any, contact_ids: list[str]) -> ContactCheck:
    """Compare every contact's CRM record with a clean analysis of its final CRM state."""
    adapter = world.adapter
    on_record = adapter.read_fields(contact_ids)
    final_state = adapter.fetch_contacts(contact_ids)  # batch reads: the oracle must not eat the rate limit
    applied: list[str] = []
    lost: dict[str, str] = {}
    ledger: dict[str, int] = {}
    with world.runtime.store.session() as session:
        for contact_id in contact_ids:
            state = session.get(ContactAnalysis, (world.connection_id, contact_id))
            written = session.get(WrittenValues, (world.connection_id, contact_id))
            ledger[contact_id] = written.write_count if written else 0
            at = state.analyzed_at if state is not None else None
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            if contact_id not in final_state:
                lost[contact_id] = "contact no longer readable from the CRM"
                continue
            expected = clean_values(world, final_state[contact_id], at)
            actual = on_record.get(contact_id) or {}
            differences = [key for key in COMPARED_KEYS if not _matches(key, expected.get(key), actual.get(key))]
            if differences:
                lost[contact_id] = ", ".join(f"{k}: {actual.get(k)!r} != {expected.get(k)!r}" for k in differences)
            else:
                applied.append(contact_id)
    return ContactCheck(applied, lost, ledger)


def _matches(key: str, expected: Any, actual: Any) -> bool:
    if actual is None:
        return False
    tolerance = NUMERIC_TOLERANCE.get(key)
    if tolerance is not None:
        # the connector leaves drift below its write tolerance on the record (see connector.writeback)
        return abs(float(actual) - float(expected)) < tolerance + 0.051
    return str(actual) == str(expected)


def score(row: Row, world: Any, contact_ids: list[str]) -> ContactCheck:
    """Judge the contacts and fill the row's applied / lost / duplicates."""
    check = check_contacts(world, contact_ids)
    row.applied = len(check.applied)
    row.lost = len(check.lost)
    row.duplicates = world.writes.duplicates({c: len(world.writes.of(c)) for c in contact_ids})
    return check
