"""The sandboxes send what the real CRMs send: Salesforce outbound messages with the 15- and the
18-character org id, Dataverse's x-ms-dynamics-organization as a host name; the Salesforce sandbox
seeds contacts from the exchange format's own fields. Deliveries go to the connector over HTTP,
into the real Redis queue."""

from __future__ import annotations

import re
from typing import Any

import pytest

from adapters.base import ConnectionInfo
from connector.app import create_app
from connector.connections import create_connection
from sandbox.server import ServerThread
from tests.test_salesforce_adapter import RECORDS as SF_RECORDS


def test_salesforce_outbound_messages_carry_both_org_id_forms_and_all_are_queued(runtime_factory,
                                                                                  redis_server_url) -> None:
    from sandbox.salesforce import SalesforceSandbox

    rt = runtime_factory(redis_server_url)
    sandbox = SalesforceSandbox()
    sandbox.seed(SF_RECORDS)
    sandbox.start()
    server = ServerThread(create_app(rt)).start()
    try:
        connection_id = create_connection(rt.store, rt.box, platform="salesforce", name="om", settings={},
                                          credentials={}, webhook_secrets=["om-secret"],
                                          account_id=sandbox.store.org_id)  # stored in the 18-character form
        sandbox.subscribe(f"{server.url}/webhooks/salesforce/{connection_id}", "om-secret")
        contacts = sandbox.contact_ids()
        for contact in contacts[:2]:  # two messages: one of each form
            assert sandbox.notify([contact]) == 1
        assert sandbox.sender.wait_idle(30)
        deliveries = sandbox.sender.deliveries
        forms = {re.search(rb"<OrganizationId>(\w+)</OrganizationId>", d.body).group(1) for d in deliveries}
        assert forms == {sandbox.store.org_id.encode(), sandbox.store.org_id[:15].encode()}
        assert all(d.delivered and d.statuses == [200] for d in deliveries)
        assert rt.queue.deliveries.backlog(connection_id) == 2  # nothing acknowledged and dropped
    finally:
        server.stop()
        sandbox.stop()


def test_salesforce_sandbox_seeds_names_and_created_date_from_the_data_set() -> None:
    from sandbox.salesforce import SalesforceSandbox

    sandbox = SalesforceSandbox()
    sandbox.seed([{"record": "contact", "contact_id": "c9", "first_name": "Mei", "last_name": "Tanaka",
                   "email": "mei@example.test", "created": "2024-03-05"}])
    record: dict[str, Any] = sandbox.contact_record(sandbox.native_contact_id("c9"))
    assert (record["FirstName"], record["LastName"]) == ("Mei", "Tanaka")
    assert str(record["CreatedDate"]).startswith("2024-03-05")


def test_dataverse_sends_the_organization_header_as_a_host_name() -> None:
    from sandbox.dynamics import DynamicsSandbox
    from sandbox.sender import Delivery

    sandbox = DynamicsSandbox()
    sandbox.start()
    try:
        capture = ServerThread(_accept_all()).start()
        settings, _ = sandbox.connection_settings()
        sandbox.seed([{"record": "contact", "contact_id": "c1", "first_name": "Ann", "last_name": "Lee"}])
        sandbox.subscribe(f"{capture.url}/hook", "dyn-key")
        assert sandbox.emit_contact_changes(sandbox.contact_ids()) >= 1
        assert sandbox.sender.wait_idle(30)
        delivery: Delivery = sandbox.sender.deliveries[0]
        header = delivery.extra_headers["x-ms-dynamics-organization"]
        assert ":" not in header and "/" not in header  # contoso.crm.dynamics.com, never host:port or a URL
        assert header == re.sub(r"^https?://|:\d+$", "", settings["org_url"].rstrip("/"))
        capture.stop()
    finally:
        sandbox.stop()


def _accept_all() -> Any:
    from flask import Flask

    app = Flask("capture")
    app.add_url_rule("/hook", "hook", lambda: ("", 204), methods=["POST"])
    return app


@pytest.mark.parametrize("platform", ["hubspot", "salesforce", "dynamics"])
def test_renewal_story_keeps_its_stage_through_each_crm(platform: str) -> None:
    """The demo's renewal customers reach the engine as 'renewal' through every CRM's adapter
    (their open renewal deal carries it; a renewal date is no standard CRM field)."""
    from datetime import UTC, datetime

    from cem_engine import analyze
    from connector.registry import get_platform
    from sandbox import sandbox_class
    from sandbox.dataset import demo_records

    records = demo_records(60)
    story = [r for r in records if r.get("record") == "contact" and r["expected"]["journey_stage"] == "renewal"]
    wanted = {r["contact_id"] for r in story}
    sandbox = sandbox_class(platform)()
    sandbox.seed([r for r in records if r.get("contact_id") in wanted])
    sandbox.start()
    try:
        settings, credentials = sandbox.connection_settings()
        adapter = get_platform(platform).adapter_class()(ConnectionInfo(1, platform, settings, credentials))
        found = adapter.fetch_contacts([sandbox.native_contact_id(c) for c in wanted])
        stages = {analyze(data, now=datetime.now(UTC)).journey_stage for data in found.values()}
        assert len(found) == len(wanted) >= 1 and stages == {"renewal"}
    finally:
        sandbox.stop()
