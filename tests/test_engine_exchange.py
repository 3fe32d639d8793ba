"""The exchange JSONL format: any order, clear line-numbered errors, round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cem_engine import ExchangeError
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
