"""Routing: the id forms a CRM uses interchangeably reach the same connection, and an event that
cannot be routed or queued is never acknowledged (the CRM keeps it and retries).

Bodies are vendor-shaped: Salesforce outbound-message SOAP, Dataverse RemoteExecutionContext with
the documented headers, HubSpot's event array.
"""

from __future__ import annotations

import json

import pytest

from adapters.ids import guid, host_name, salesforce_id18
from tests.test_salesforce_receiver import ORG as SF_ORG18
from tests.test_salesforce_receiver import handle as sf_handle
from tests.test_salesforce_receiver import om_request, outbound_body
from tests.test_webhooks_dynamics import ORG as DYN_ORG
from tests.test_webhooks_dynamics import TestDynamicsReceiver, context
from tests.webhook_suite import SECRET, RecordingSink

SF_ORG15 = SF_ORG18[:15]


def test_salesforce_id_forms() -> None:
    assert salesforce_id18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # Salesforce's documented example
    assert salesforce_id18("001A0000006Vm9rIAC") == salesforce_id18("001A0000006Vm9rIac") == "001A0000006Vm9rIAC"
    assert salesforce_id18(SF_ORG15) == SF_ORG18
    assert salesforce_id18("001a0000006Vm9r") != salesforce_id18("001A0000006Vm9r")  # 15-char ids are case-sensitive
    assert salesforce_id18("001A0000006Vm9rAAA") == "001A0000006Vm9rAAA"  # wrong checksum: left alone, matches nothing


def test_guid_and_host_forms() -> None:
    assert guid("{0D6A6B8F-1111-4E0B-9F7E-3F4BC1A9C001}") == "0d6a6b8f-1111-4e0b-9f7e-3f4bc1a9c001"
    assert host_name("https://Contoso.crm4.dynamics.com/") == host_name("contoso.crm4.dynamics.com") \
        == "contoso.crm4.dynamics.com"
    assert host_name("127.0.0.1:8443") == "127.0.0.1"


@pytest.mark.parametrize(("stored", "sent"), [(SF_ORG18, SF_ORG15), (SF_ORG15, SF_ORG18), (SF_ORG15, SF_ORG15)])
def test_salesforce_outbound_message_with_either_org_id_form_is_queued(stored: str, sent: str) -> None:
    status, body, _, sink = sf_handle(om_request(outbound_body(org=sent)), account=stored)
    assert status == 200 and "<Ack>true</Ack>" in body
    assert len(sink.events) == 1  # the old code acked the 15/18 mix and queued nothing


@pytest.mark.parametrize(("stored", "sent"), [(DYN_ORG.upper(), DYN_ORG), (DYN_ORG, DYN_ORG.upper()),
                                              ("{" + DYN_ORG.upper() + "}", DYN_ORG)])
def test_dataverse_organisation_guid_in_any_case_is_queued(stored: str, sent: str) -> None:
    suite = TestDynamicsReceiver()
    body = context()
    body["OrganizationId"] = sent
    target = suite.make_target([SECRET])
    target = type(target)(target.connection_id, stored, target.secrets, target.settings)
    sink = RecordingSink()
    response = suite.receiver().handle(suite.signed_request(json.dumps(body).encode(), SECRET), [target], sink)
    assert response.status == 200 and len(sink.events) == 1


def test_dataverse_organization_header_is_a_host_name() -> None:
    suite = TestDynamicsReceiver()
    request = suite.signed_request(suite.valid_body(), SECRET)  # x-ms-dynamics-organization: contoso.crm.dynamics.com
    for org_url, expected in (("https://contoso.crm.dynamics.com", 200), ("https://CONTOSO.crm.dynamics.com/", 200),
                              ("https://fabrikam.crm.dynamics.com", 403)):
        sink = RecordingSink()
        response = suite.receiver().handle(request, [suite.make_target([SECRET], org_url=org_url)], sink)
        assert response.status == expected, (org_url, response.body)
        assert bool(sink.events) == (expected == 200)


def test_unroutable_salesforce_event_gets_a_fault_not_an_ack() -> None:
    # an org that none of the connections sharing this URL and secret serves
    from webhooks.base import WebhookTarget
    from webhooks.salesforce import SalesforceReceiver

    targets = [WebhookTarget(1, SF_ORG18, [SECRET], {}), WebhookTarget(2, "00D000000000002", [SECRET], {})]
    sink = RecordingSink()
    response = SalesforceReceiver().handle(om_request(outbound_body(org="00D000000000003")), targets, sink)
    assert response.status == 403 and "Ack" not in response.body and not sink.events


def test_routing_through_the_service_queues_the_15_character_form(runtime_factory, redis_server_url) -> None:
    """The whole receiving path: Flask app, stored connection, real Redis queue."""
    from connector.app import create_app
    from connector.connections import create_connection

    rt = runtime_factory(redis_server_url)
    connection_id = create_connection(rt.store, rt.box, platform="salesforce", name="acme", settings={},
                                      credentials={}, webhook_secrets=[SECRET], account_id=SF_ORG18)
    client = create_app(rt).test_client()
    response = client.post(f"/webhooks/salesforce/{connection_id}?token={SECRET}", data=outbound_body(org=SF_ORG15),
                           content_type="text/xml")
    assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
    assert rt.queue.depth()["queued"] == 1
