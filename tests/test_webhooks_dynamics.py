"""Dataverse receiver: the shared security suite plus RemoteExecutionContext parsing, dedupe and loops.

Bodies follow the documented sample in powerapps-docs use-webhooks.md (key/value collections,
``/Date(ms)/`` dates, EntityReference lookups, activity-party EntityCollections).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tests.webhook_suite import OLD_SECRET, SECRET, RecordingSink, WebhookSecuritySuite
from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookTarget
from webhooks.dynamics import DynamicsReceiver, parse_wcf_date

ORG = "0d6a6b8f-1111-4e0b-9f7e-3f4bc1a9c001"
APP_USER = "75c2dd85-2222-4b3e-8c1d-5b6a7d8e9f00"
REP_USER = "11112222-3333-4444-5555-666677778888"
CONTACT = "6d81597f-0f9f-e711-8122-000d3a2ba2ea"
EMAIL = "aa81597f-0f9f-e711-8122-000d3a2ba2eb"
CONTRACTS = "http://schemas.microsoft.com/xrm/2011/Contracts"
URL = "https://connector.example.com/webhooks/dynamics/7"


def ref(logical: str, record_id: str) -> dict[str, Any]:
    return {"__type": f"EntityReference:{CONTRACTS}", "Id": record_id, "KeyAttributes": [], "LogicalName": logical,
            "Name": None, "RowVersion": None}


def context(message: str = "Update", entity: str = "contact", record: str = CONTACT, *, user: str = REP_USER,
            operation: str = "5c7c1e7d-0000-4000-8000-000000000001", attributes: list[dict[str, Any]] | None = None,
            ) -> dict[str, Any]:
    return {
        "BusinessUnitId": "aa6a6b8f-1111-4e0b-9f7e-3f4bc1a9c001",
        "CorrelationId": "b374239d-4233-41a9-8b17-a2cb5b4e3f31",
        "Depth": 1, "InitiatingUserId": user, "UserId": user, "IsExecutingOffline": False, "IsInTransaction": False,
        "IsOfflinePlayback": False, "IsolationMode": 1, "MessageName": message, "Mode": 1,
        "OperationCreatedOn": "/Date(1506409448000-0700)/", "OperationId": operation, "OrganizationId": ORG,
        "OrganizationName": "contoso", "OutputParameters": [],
        "OwningExtension": {"Id": "3b7d9b5c-0000-4000-8000-000000000002", "LogicalName": "sdkmessageprocessingstep",
                            "Name": "CEM connector: Update of contact"},
        "ParentContext": None, "PostEntityImages": [], "PreEntityImages": [], "PrimaryEntityId": record,
        "PrimaryEntityName": entity, "RequestId": None, "SecondaryEntityName": "none", "SharedVariables": [],
        "Stage": 40,
        "InputParameters": [{"key": "Target", "value": {
            "__type": f"Entity:{CONTRACTS}", "LogicalName": entity, "Id": record,
            "Attributes": attributes if attributes is not None else [
                {"key": "firstname", "value": "James"}, {"key": "modifiedon", "value": "/Date(1506384247000)/"},
                {"key": "modifiedby", "value": ref("systemuser", user)}]}}],
    }


class TestDynamicsReceiver(WebhookSecuritySuite):
    receiver_cls = DynamicsReceiver

    def make_target(self, secrets: Sequence[str], **settings: Any) -> WebhookTarget:
        return WebhookTarget(connection_id=7, account_id=ORG, secrets=tuple(secrets),
                             settings={"application_user_id": APP_USER, **settings})

    def valid_body(self) -> bytes:
        return json.dumps(context()).encode()

    def signs_body(self) -> bool:
        return False  # Dataverse sends a shared key, it never signs the body

    def signed_request(self, body: bytes, secret: str, *, timestamp: float | None = None) -> InboundRequest:
        query = {"code": secret}
        headers = CaseInsensitiveDict({
            "Content-Type": "application/json; charset=utf-8", "x-request-id": "f0e9d8c7-b6a5-4321-9876-543210fedcba",
            "x-ms-dynamics-organization": "contoso.crm.dynamics.com", "x-ms-dynamics-entity-name": "contact",
            "x-ms-dynamics-request-name": "Update", "x-ms-correlation-request-id": "b374239d-4233"})
        return InboundRequest("POST", f"{URL}?{urlencode(query)}", headers, body, query)

    def strip_auth(self, request: InboundRequest) -> InboundRequest:
        return replace(request, url=URL, query={})

    # -- Dataverse specifics --------------------------------------------------------------
    def test_contact_update_becomes_contact_changed(self) -> None:
        status, _, sink = self.run(self.signed_request(self.valid_body(), SECRET))
        assert status == 200
        [event] = sink.events
        assert (event.kind, event.object_type, event.object_id) == ("contact.changed", "contact", CONTACT)
        assert event.account_id == ORG and event.contact_ids == (CONTACT,)
        assert event.actor == REP_USER and not event.own_write
        assert event.occurred_at == datetime(2017, 9, 26, 7, 4, 8, tzinfo=UTC)

    def test_header_authentication(self) -> None:
        request = self.strip_auth(self.signed_request(self.valid_body(), SECRET))
        request = self.with_header(request, "x-cem-webhook-key", OLD_SECRET)
        sink = RecordingSink()
        response = self.receiver().handle(request, [self.make_target((SECRET, OLD_SECRET))], sink)
        assert response.status == 200 and sink.events

    def test_own_write_is_marked(self) -> None:
        body = json.dumps(context(user=APP_USER)).encode()
        _, _, sink = self.run(self.signed_request(body, SECRET))
        assert sink.events[0].own_write

    def test_other_organization_is_refused_not_acknowledged(self) -> None:
        body = context()
        body["OrganizationId"] = "99999999-1111-4e0b-9f7e-3f4bc1a9c001"
        status, _, sink = self.run(self.signed_request(json.dumps(body).encode(), SECRET))
        assert status == 403 and not sink.events  # verified key, but not this org: never trusted, never acked

    def test_email_create_names_its_contacts(self) -> None:
        parties = {"__type": f"EntityCollection:{CONTRACTS}", "EntityName": "activityparty", "Entities": [
            {"LogicalName": "activityparty", "Id": "c1c1c1c1-0000-4000-8000-000000000003", "Attributes": [
                {"key": "partyid", "value": ref("contact", CONTACT)},
                {"key": "participationtypemask", "value": 1}]},
            {"LogicalName": "activityparty", "Id": "c2c2c2c2-0000-4000-8000-000000000004", "Attributes": [
                {"key": "partyid", "value": ref("systemuser", REP_USER)}]}]}
        body = context("Create", "email", EMAIL, attributes=[{"key": "from", "value": parties},
                                                              {"key": "subject", "value": "Help"}])
        _, _, sink = self.run(self.signed_request(json.dumps(body).encode(), SECRET))
        [event] = sink.events
        assert (event.kind, event.object_type, event.contact_ids) == ("interaction.changed", "email", (CONTACT,))

    def test_only_an_update_of_the_contact_is_a_record_only_change(self) -> None:
        scopes = {}
        for message, entity, record in (("Update", "contact", CONTACT), ("Create", "contact", CONTACT),
                                        ("Merge", "contact", CONTACT), ("Update", "email", EMAIL)):
            body = json.dumps(context(message, entity, record)).encode()
            [event] = DynamicsReceiver().parse(self.signed_request(body, SECRET))
            scopes[(message, entity)] = event.record_only
        assert scopes == {("Update", "contact"): True, ("Create", "contact"): False, ("Merge", "contact"): False,
                          ("Update", "email"): False}

    def test_retry_of_the_same_job_dedupes_but_new_jobs_do_not(self) -> None:
        first = DynamicsReceiver().parse(self.signed_request(self.valid_body(), SECRET))[0]
        again = DynamicsReceiver().parse(self.signed_request(self.valid_body(), SECRET))[0]
        other = DynamicsReceiver().parse(self.signed_request(
            json.dumps(context(operation="5c7c1e7d-0000-4000-8000-000000000009")).encode(), SECRET))[0]
        assert first.event_id == again.event_id != other.event_id

    def test_unknown_table_is_acknowledged_without_events(self) -> None:
        status, _, sink = self.run(self.signed_request(json.dumps(context(entity="account")).encode(), SECRET))
        assert status == 200 and not sink.events

    def test_bad_remote_execution_contexts_are_clear_400s(self) -> None:
        def broken(change: Any) -> bytes:
            body = copy.deepcopy(context())
            change(body)
            return json.dumps(body).encode()

        cases = {
            "MessageName": broken(lambda b: b.pop("MessageName")),
            "PrimaryEntityId": broken(lambda b: b.update(PrimaryEntityId="not-a-guid")),
            "OrganizationId": broken(lambda b: b.update(OrganizationId=42)),
            "OperationCreatedOn": broken(lambda b: b.update(OperationCreatedOn="yesterday")),
            "InputParameters": broken(lambda b: b.update(InputParameters={"Target": {}})),
            "Depth": broken(lambda b: b.update(Depth="1")),
        }
        for field, body in cases.items():
            status, text, sink = self.run(self.signed_request(body, SECRET))
            assert status == 400, field
            assert field in json.loads(text)["error"] and not sink.events


def test_wcf_dates() -> None:
    assert parse_wcf_date("/Date(1506384247000)/") == datetime(2017, 9, 26, 0, 4, 7, tzinfo=UTC)
    shifted = parse_wcf_date("/Date(1506409448000-0700)/")
    assert shifted is not None and shifted.utcoffset() is not None and shifted.utcoffset().total_seconds() == -7 * 3600
    assert parse_wcf_date("2017-09-26") is None
