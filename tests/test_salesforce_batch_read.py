"""Salesforce batch reads: the same ContactInput as single reads, at a cost that does not grow with the batch.

Everything runs against the Salesforce sandbox over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
import requests

from adapters.base import ConnectionInfo
from adapters.errors import ConfigurationError, InvalidRequest, NotFound
from adapters.salesforce import SalesforceAdapter
from adapters.salesforce.read import MAX_QUERY_URL, QUERY_PATH_BYTES, in_chunks
from sandbox.dataset import demo_records
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.api import MAX_URI_BYTES
from sandbox.salesforce.soql import MAX_SOQL_LENGTH

logging.getLogger("werkzeug").setLevel(logging.ERROR)

NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


def is_query(path: str) -> bool:
    return path.rstrip("/").endswith("/query")


@pytest.fixture(scope="module")
def demo() -> Iterator[SalesforceSandbox]:
    box = SalesforceSandbox()
    records = demo_records(30, now=NOW)
    box.seed(records)
    # The demo set's tickets are all the customer's own; add case comments by reps and by portal users
    # so the batch has to hand comments (and their authors' user types) to the right contacts too.
    with_cases = sorted({r["contact_id"] for r in records if r.get("kind") in ("ticket", "chat", "form")})
    for n, exchange_id in enumerate(with_cases):
        box.add_interaction({"contact_id": exchange_id, "kind": "ticket", "direction": "outbound", "author": "rep",
                             "occurred_at": f"2026-09-{10 + n % 9:02d}T09:00:00Z", "body": "We are on it"},
                            notify=False)
        case = max((c for c in box.store.records["Case"].values()
                    if c["ContactId"][:15] == box.native_contact_id(exchange_id)[:15]), key=lambda c: c["CreatedDate"])
        box.store.insert("CaseComment", {"ParentId": case["Id"], "CommentBody": "Still broken for me",
                                         "IsPublished": True}, user_id=box.store.portal_user_id)
    box.start()
    yield box
    box.stop()


def adapter_for(box: SalesforceSandbox, **overrides: object) -> SalesforceAdapter:
    settings, credentials = box.connection_settings()
    settings.update(overrides)
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, credentials), sleep=lambda _: None)
    adapter.check_connection()  # log in now, so call counts below are reads only
    return adapter


def calls_of(box: SalesforceSandbox, action) -> tuple[object, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    before = len(box.calls)
    result = action()
    return result, box.calls[before:]


def test_batch_gives_each_contact_what_a_single_read_gives(demo: SalesforceSandbox) -> None:
    ids = demo.contact_ids()
    assert len(ids) == 30
    adapter = adapter_for(demo)
    batch = adapter.fetch_contacts(ids)
    assert list(batch) == ids
    for contact_id in ids:
        single = adapter.fetch_contact(contact_id)
        assert batch[contact_id] == single, contact_id
        assert all(i.contact_id == contact_id for i in single.interactions)
        assert all(d.contact_id == contact_id for d in single.deals)
    # the demo set exercises every source, so the comparison above covers every distribution path
    sources = {i.metadata.get("source") for c in batch.values() for i in c.interactions}
    assert sources >= {"Task", "EmailMessage", "Case", "CaseComment", "SurveyResponse"}
    authors = {i.author for c in batch.values() for i in c.interactions if i.metadata.get("source") == "CaseComment"}
    assert authors == {"customer", "rep"}
    assert sum(len(c.deals) for c in batch.values()) > 0


def test_thirty_contacts_cost_at_most_a_small_constant_more_than_one(demo: SalesforceSandbox) -> None:
    ids = demo.contact_ids()
    adapter = adapter_for(demo)
    _, one = calls_of(demo, lambda: adapter.fetch_contacts(ids[:1]))
    _, thirty = calls_of(demo, lambda: adapter.fetch_contacts(ids))
    assert all(is_query(path) for _, path in one + thirty)  # reads only, no paging at this size
    assert len(one) <= 9
    assert len(thirty) <= len(one) + 2, (len(one), len(thirty))


def test_paging_with_next_records_url_gives_the_same_result(demo: SalesforceSandbox) -> None:
    ids = demo.contact_ids()
    adapter = adapter_for(demo)
    expected = adapter.fetch_contacts(ids)
    demo.api.query_batch_size = 7  # the real API may answer with smaller batches than asked for
    try:
        paged, calls = calls_of(demo, lambda: adapter.fetch_contacts(ids))
    finally:
        demo.api.query_batch_size = 2000
    assert paged == expected
    assert any("/query/01g" in path for _, path in calls)


def test_missing_foreign_and_duplicate_ids_are_left_out(demo: SalesforceSandbox) -> None:
    ids = demo.contact_ids()
    adapter = adapter_for(demo)
    gone = "003" + "8d0000099999" + "AAA"
    found = adapter.fetch_contacts([ids[0], gone, "00Q8d0000000001AAA", "not-an-id", ids[0], ids[1][:15]])
    assert list(found) == [ids[0], ids[1][:15]]  # keyed as asked, 15-character ids too
    assert found[ids[1][:15]].contact.contact_id == ids[1][:15]
    with pytest.raises(NotFound):
        adapter.fetch_contact(gone)
    with pytest.raises(NotFound):
        adapter.fetch_contact("00Q8d0000000001AAA")  # a Lead, and this connection reads Contacts only
    assert adapter.fetch_contacts([]) == {}


def test_one_email_to_two_contacts_and_leads_in_the_same_batch() -> None:
    box = SalesforceSandbox()
    box.seed([{"record": "contact", "contact_id": "a"}, {"record": "contact", "contact_id": "b"},
              {"record": "interaction", "contact_id": "a", "id": "x", "kind": "email", "direction": "inbound",
               "occurred_at": "2026-09-12T10:00:00Z", "subject": "Both", "body": "We are both unhappy"}])
    a, b = box.native_contact_id("a"), box.native_contact_id("b")
    email = next(iter(box.store.records["EmailMessage"]))
    box.store.insert("EmailMessageRelation", {"EmailMessageId": email, "RelationId": b, "RelationType": "CcAddress",
                                              "RelationObjectType": "Contact"}, user_id=box.store.admin_id)
    lead = box.store.insert("Lead", {"LastName": "Prospect", "Company": "Acme", "Email": "p@acme.example"},
                            user_id=box.store.admin_id)
    box.store.insert("Task", {"WhoId": lead, "Subject": "Intro call", "Description": "Asked about pricing",
                              "TaskSubtype": "Call", "CallType": "Outbound", "Status": "Completed"},
                     user_id=box.store.admin_id)
    box.start()
    try:
        adapter = adapter_for(box, objects=["Contact", "Lead"])
        found = adapter.fetch_contacts([a, b, lead])
        assert [i.id for i in found[a].interactions] == [email] == [i.id for i in found[b].interactions]
        assert found[b].interactions[0].contact_id == b
        assert found[lead].contact.lifecycle_stage == "lead" and found[lead].deals == ()
        assert [i.kind for i in found[lead].interactions] == ["call"]
        for contact_id in (a, b, lead):
            assert adapter.fetch_contact(contact_id) == found[contact_id]
    finally:
        box.stop()


def test_in_lists_are_cut_to_stay_under_the_url_and_soql_limits() -> None:
    ids = [f"0038d{n:010d}AAA" for n in range(2000)]
    statements = list(in_chunks(ids, lambda in_list: f"SELECT Id FROM Task WHERE WhoId IN {in_list}"))
    assert len(statements) > 1
    assert all(QUERY_PATH_BYTES + len(quote_plus(s)) <= MAX_QUERY_URL < MAX_URI_BYTES for s in statements)
    assert all(len(s) <= MAX_SOQL_LENGTH for s in statements)
    listed = [part.strip(" '()") for s in statements for part in s.split(" IN ")[1].split(",")]
    assert listed == ids  # every id once, in order
    assert list(in_chunks([], lambda in_list: f"SELECT Id FROM Task WHERE WhoId IN {in_list}")) == []


def test_a_batch_larger_than_one_url_is_read_in_several_statements(demo: SalesforceSandbox) -> None:
    ids = demo.contact_ids()
    padding = [f"0038d{n:010d}ZZZ" for n in range(900, 1400)]  # 500 ids that do not exist
    adapter = adapter_for(demo)
    (found, calls) = calls_of(demo, lambda: adapter.fetch_contacts([*padding, *ids]))
    assert list(found) == ids
    assert sum(1 for _, path in calls if is_query(path)) > 9  # the Contact IN list did not fit in one


def test_sandbox_refuses_a_uri_over_16384_bytes_and_the_adapter_says_so(demo: SalesforceSandbox) -> None:
    adapter = adapter_for(demo)
    ids = ", ".join(f"'0038d{n:010d}AAA'" for n in range(700))
    soql = f"SELECT Id FROM Contact WHERE Id IN ({ids})"
    session = adapter.client.session
    assert session is not None
    answer = requests.get(f"{session.instance_url}/services/data/v59.0/query", params={"q": soql},
                          headers={"Authorization": f"Bearer {session.access_token}"}, timeout=10)
    assert answer.status_code == 414
    with pytest.raises(InvalidRequest):
        adapter.client.query(soql)


def test_sandbox_refuses_a_statement_over_100000_characters(demo: SalesforceSandbox) -> None:
    from sandbox.salesforce.soql import SoqlError, parse

    long_name = "x" * (MAX_SOQL_LENGTH - 40)
    with pytest.raises(SoqlError) as caught:
        parse(f"SELECT Id FROM Contact WHERE LastName = '{long_name}'")
    assert caught.value.code == "MALFORMED_QUERY"


def test_sandbox_answers_child_to_parent_fields_nested_with_attributes(demo: SalesforceSandbox) -> None:
    adapter = adapter_for(demo)
    contact = demo.contact_ids()[0]
    rows = adapter.client.query("SELECT Id, CreatedBy.UserType, Parent.ContactId, Parent.Contact.Name FROM CaseComment "
                                "WHERE Parent.ContactId != null ORDER BY Parent.CreatedDate")
    assert rows
    first = rows[0]
    assert first["CreatedBy"]["attributes"]["type"] == "User" and "UserType" in first["CreatedBy"]
    assert first["Parent"]["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Case/")
    assert first["Parent"]["Contact"]["attributes"]["type"] == "Contact"
    cases = adapter.client.query(f"SELECT Id, Account.Name FROM Case WHERE Contact.Id = '{contact}'")
    assert all(c["Account"] is None for c in cases)  # an empty lookup is null, not an empty object
    with pytest.raises(ConfigurationError):  # INVALID_FIELD: polymorphic lookups need TYPEOF (not in the sandbox)
        adapter.client.query("SELECT Id, Who.Name FROM Task")
