"""The exchange JSONL format: any order, clear line-numbered errors, round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cem_engine import ExchangeError, exchange, schema
from cem_engine.exchange import read_records, to_records
from sandbox.dataset import demo_records


def test_records_in_any_order_are_grouped_by_contact() -> None:
    lines = [
        '{"record":"interaction","contact_id":"c1","id":"i1","kind":"email","direction":"inbound",'
        '"occurred_at":"2026-05-01T10:00:00Z","body":"Hi"}',
        "",
        '{"record":"deal","contact_id":"c2","id":"d1","stage":"closedwon","created":"2026-01-01"}',
        '{"record":"contact","contact_id":"c1","lifecycle_stage":"customer","renewal_date":"2027-01-15",'
        '"first_name":"Ann","last_name":"Lee","created":"2025-01-01"}',
    ]
    c1, c2 = read_records(lines)
    assert c1.contact.name == "Ann Lee" and c1.contact.renewal_date.isoformat() == "2027-01-15"
    assert c1.interactions[0].effective_author == "customer"
    assert c1.interactions[0].occurred_at == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert c2.contact.contact_id == "c2" and c2.deals[0].type == "new_business"


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"record":"person","contact_id":"c"}', "must be contact, deal or interaction"),
    ('{"record":"contact"}', "needs 'contact_id'"),
    ('{"record":"deal","contact_id":"c","id":"d","stage":"won"}', "'stage' must be one of"),
    ('{"record":"interaction","contact_id":"c","id":"i","kind":"fax","direction":"inbound",'
     '"occurred_at":"2026-01-01T00:00:00Z"}', "'kind' must be one of"),
    ('{"record":"interaction","contact_id":"c","id":"i","kind":"email","direction":"inbound",'
     '"occurred_at":"yesterday"}', "not an ISO date"),
    ('{"record":"interaction","contact_id":"c","id":"i","kind":"email","direction":"inbound"}', "needs 'occurred_at'"),
])
def test_bad_lines_name_the_line(line: str, message: str) -> None:
    good = '{"record":"contact","contact_id":"ok"}'
    with pytest.raises(ExchangeError, match=message) as info:
        read_records([good, line])
    assert info.value.line == 2 and str(info.value).startswith("line 2:")


def test_duplicate_contact_record_is_an_error() -> None:
    with pytest.raises(ExchangeError, match="second contact record"):
        read_records(['{"record":"contact","contact_id":"c"}'] * 2)


def test_round_trip_of_the_demo_data_set() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first = read_records(json.dumps(r) for r in demo_records(now=now))
    again = read_records(json.dumps(r) for c in first for r in to_records(c))
    assert again == first


def _interaction_line(**extra: object) -> str:
    record = {"record": "interaction", "contact_id": "c", "id": "i", "kind": "email", "direction": "inbound",
              "occurred_at": "2026-05-01T10:00:00Z", "body": "Hello"}
    record.update(extra)
    return json.dumps(record)


def test_bad_lines_are_skipped_and_reported_not_fatal() -> None:
    lines = [
        "\ufeff" + '{"record":"contact","contact_id":"c","lifecycle_stage":"customer"}',  # UTF-8 BOM
        "{broken",
        _interaction_line(id="i0", occurred_at="0001-01-01T00:00:00Z"),
        "[" * 100_000 + "]" * 100_000,  # nesting deep enough to exhaust the JSON parser's recursion
        _interaction_line(id="i1", body="x" * (exchange.MAX_BODY_CHARS + 10)),
        _interaction_line(id="i2"),
    ]
    read = exchange.read_exchange(lines)
    [contact] = read.contacts
    assert contact.contact.lifecycle_stage == "customer"
    assert [i.id for i in contact.interactions] == ["i1", "i2"]
    assert len(contact.interactions[0].body) == exchange.MAX_BODY_CHARS
    by_line = {p.line: p for p in read.problems}
    assert set(by_line) == {2, 3, 4, 5}
    assert "invalid JSON" in by_line[2].message and by_line[2].skipped
    assert "year 1 is outside" in by_line[3].message
    assert "nested too deeply" in by_line[4].message or "invalid JSON" in by_line[4].message
    assert not by_line[5].skipped and "body cut" in by_line[5].message
    with pytest.raises(ExchangeError, match="line 2"):
        read_records(lines)  # the strict reader still stops at the first skipped line


def test_normalised_schema_values() -> None:
    assert schema.ticket_status({"status": "Waiting on customer"}) == "pending"
    assert schema.ticket_status({"status": "Resolved"}) == "solved"
    assert schema.ticket_status({}) == "open"
    assert schema.ticket_priority({"priority": "P1"}, "open") == "urgent"
    assert schema.ticket_priority({}, "escalated") == "urgent"
    assert schema.call_outcome({"outcome": "Left voicemail"}, "") == "voicemail"
    assert schema.call_outcome({}, "Called, no answer") == "voicemail"
    assert schema.call_outcome({}, "Great call about the roadmap") == "connected"
    assert schema.is_cancellation_form({"form_type": "cancellation"}, "Feedback")
    assert schema.is_cancellation_form({}, "Cancel my subscription")
    assert schema.flag({"replied": "false"}, "replied") is False and schema.flag({}, "replied") is None


def test_lost_reason_round_trips() -> None:
    line = '{"record":"deal","contact_id":"c","id":"d","stage":"closedlost","lost_reason":"Went with a rival"}'
    [contact] = read_records([line])
    assert contact.deals[0].lost_reason == "Went with a rival"
    assert to_records(contact)[1]["lost_reason"] == "Went with a rival"
