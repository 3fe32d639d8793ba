"""Company and owner reach the journey map header and the aggregate map's owner filter, on every CRM.

Each CRM's sandbox runs as a real HTTP server on 127.0.0.1, seeded with demo contacts that carry a
company and an owner; the adapter must read both in the batch calls it already makes.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from adapters.base import ConnectionInfo
from cem_engine.exchange import read_records, to_records
from connector.app import create_app
from connector.connections import create_connection, remembered_settings
from connector.jobs import refresh_contacts
from connector.registry import get_platform
from connector.web.auth import sign_journey
from sandbox import sandbox_class
from sandbox.dataset import demo_records

logging.getLogger("werkzeug").setLevel(logging.ERROR)

NOW = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)
PLATFORMS = ("hubspot", "salesforce", "dynamics")


def _expected(records: list[dict]) -> dict[str, tuple[str, str]]:
    """exchange contact id -> (company, owner) as the data set wrote them."""
    return {r["contact_id"]: (r["company"], r["owner"]) for r in records if r["record"] == "contact"}


def _adapter(box, platform: str):  # type: ignore[no-untyped-def]
    settings, credentials = box.connection_settings()
    adapter = get_platform(platform).adapter_class()(ConnectionInfo(1, platform, settings, credentials))
    adapter.check_connection()  # log in now, so the counts below are reads only
    return adapter


def _read_calls(box, action) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    before = len(box.calls)
    result = action()
    return result, len(box.calls) - before


@pytest.mark.parametrize("platform", PLATFORMS)
def test_company_and_owner_arrive_in_the_batch_read(platform: str) -> None:
    records = demo_records(24, now=NOW)
    expected = _expected(records)
    box = sandbox_class(platform)()
    box.seed(records)
    box.start()
    try:
        native = {box.native_contact_id(cid): cid for cid in expected}
        ids = list(native)
        adapter = _adapter(box, platform)
        small, small_calls = _read_calls(box, lambda: adapter.fetch_contacts(ids[:6]))
        full, full_calls = _read_calls(box, lambda: adapter.fetch_contacts(ids))
        again, again_calls = _read_calls(box, lambda: adapter.fetch_contacts(ids[:6]))
        for contact_id, data in full.items():  # type: ignore[attr-defined]
            assert (data.contact.company, data.contact.owner) == expected[native[contact_id]], platform
        assert {d.contact.owner for d in full.values()} == {"Dana Whitfield", "Marco Ruiz", "Priya Nair",  # type: ignore[attr-defined]
                                                            "Tom Becker"}
        # no call per contact: four times the contacts cost no more calls than six did (one batch each)
        assert full_calls <= small_calls, (platform, small_calls, full_calls)
        if platform == "hubspot":
            # the owner names are one owners-API read per adapter instance, not per batch
            assert Counter(p for _, p in box.calls)["/crm/v3/owners/"] == 1
            assert again_calls == small_calls - 1
        else:
            # company and owner ride in the contact query itself: the same calls as a read without them
            assert again_calls == small_calls
        assert again == small and small == {k: v for k, v in full.items() if k in small}  # type: ignore[attr-defined,operator]
    finally:
        box.stop()


def test_the_exchange_contact_record_carries_company_and_owner() -> None:
    line = ('{"record":"contact","contact_id":"c1","name":"Ana Lima","company":"Harbor Logistics",'
            '"owner":"Priya Nair"}')
    (data,) = read_records([line])
    assert (data.contact.company, data.contact.owner) == ("Harbor Logistics", "Priya Nair")
    assert to_records(data)[0] == {"record": "contact", "contact_id": "c1", "name": "Ana Lima",
                                   "company": "Harbor Logistics", "owner": "Priya Nair"}
    (bare,) = read_records(['{"record":"contact","contact_id":"c2"}'])
    assert "company" not in to_records(bare)[0] and "owner" not in to_records(bare)[0]


@pytest.fixture
def runtime(runtime_factory, redis_server_url: str):  # type: ignore[no-untyped-def]
    rt = runtime_factory(redis_server_url)
    rt.settings = replace(rt.settings, public_url="http://localhost")
    return rt


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


@pytest.fixture
def analysed(runtime) -> Iterator[tuple[object, dict[int, str], dict[tuple[int, str], tuple[str, str]]]]:  # type: ignore[no-untyped-def]
    """Every CRM's sandbox seeded with demo contacts, connected and refreshed by the real job."""
    boxes = []
    connections: dict[int, str] = {}
    expected: dict[tuple[int, str], tuple[str, str]] = {}
    try:
        for platform in PLATFORMS:
            records = demo_records(8, now=NOW)
            box = sandbox_class(platform)()
            box.seed(records)
            box.start()
            boxes.append(box)
            settings, credentials = box.connection_settings()
            adapter_cls = get_platform(platform).adapter_class()
            facts = adapter_cls(ConnectionInfo(0, platform, settings, credentials)).check_connection()
            connection_id = create_connection(
                runtime.store, runtime.box, platform=platform, name=f"{platform}-owners", credentials=credentials,
                webhook_secrets=["s3cret-for-tests"], settings=remembered_settings(adapter_cls, settings, facts),
                account_id=str(facts.get("account_id") or "") or None)
            connections[connection_id] = platform
            ids = {box.native_contact_id(cid): value for cid, value in _expected(records).items()}
            refresh_contacts(connection_id, list(ids))
            expected.update({(connection_id, native): value for native, value in ids.items()})
        yield runtime, connections, expected
    finally:
        for box in boxes:
            box.stop()


def test_journey_header_and_aggregate_owner_filter(analysed) -> None:  # type: ignore[no-untyped-def]
    runtime, connections, expected = analysed
    app = create_app(runtime)
    client = app.test_client()
    for (connection_id, contact_id), (company, owner) in list(expected.items())[::4]:
        with app.app_context():
            token = sign_journey(connection_id, contact_id)
        page = client.get(f"/journey/{connection_id}/{contact_id}?token={token}")
        assert page.status_code == 200, connections[connection_id]
        assert company in page.text and f"Owner: {owner}" in page.text, connections[connection_id]

    login = client.get("/admin/login")
    client.post("/admin/login", data={"token": runtime.settings.admin_token, "csrf_token": _csrf(login.text)})
    every = client.get("/admin/map")
    assert every.status_code == 200
    owners = Counter(owner for _, owner in expected.values())
    assert 'id="f-owner"' in every.text
    for owner in owners:
        assert f"<option>{owner}</option>" in every.text
    total = re.compile(r'data-test="total">(\d+) contact')
    assert int(total.search(every.text).group(1)) == len(expected)  # type: ignore[union-attr]
    owner, count = owners.most_common(1)[0]
    mine = client.get("/admin/map", query_string={"owner": owner})
    assert int(total.search(mine.text).group(1)) == count < len(expected)  # type: ignore[union-attr]
    assert f"<option selected>{owner}</option>" in mine.text
    connection_id = next(c for c, p in connections.items() if p == "dynamics")
    one = client.get("/admin/map", query_string={"owner": owner, "connection": str(connection_id)})
    assert int(total.search(one.text).group(1)) == sum(  # type: ignore[union-attr]
        1 for (c, _), (_, o) in expected.items() if c == connection_id and o == owner)


def test_a_salesforce_lead_gives_its_company_field_and_owner() -> None:
    box = sandbox_class("salesforce")()
    lead = box.store.insert("Lead", {"LastName": "Prospect", "Company": "Acme", "Email": "p@acme.example"},
                            user_id=box.store.admin_id)
    box.start()
    try:
        settings, credentials = box.connection_settings()
        adapter = get_platform("salesforce").adapter_class()(
            ConnectionInfo(1, "salesforce", {**settings, "objects": ["Contact", "Lead"]}, credentials))
        facts = adapter.fetch_contacts([lead])[lead].contact
        # a record's owner defaults to the user who created it
        assert (facts.company, facts.owner) == ("Acme", "Sandbox Admin")
    finally:
        box.stop()


def test_hubspot_without_the_owners_scope_still_reads_contacts_without_owner_names() -> None:
    records = demo_records(4, now=NOW)
    box = sandbox_class("hubspot")()
    box.seed(records)
    box.owners_scope = False
    box.start()
    try:
        native = {box.native_contact_id(cid): value for cid, value in _expected(records).items()}
        found = _adapter(box, "hubspot").fetch_contacts(list(native))
        assert {cid: (d.contact.company, d.contact.owner) for cid, d in found.items()} == {
            cid: (company, None) for cid, (company, _) in native.items()}
        assert ("GET", "/crm/v3/owners/") in box.calls  # asked once, refused with 403 MISSING_SCOPES
    finally:
        box.stop()
