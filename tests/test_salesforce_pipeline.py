"""Outbound Messages over real HTTP: sandbox sender -> receiver -> adapter fetch/analyze/write -> sandbox
Contact (no queue), plus the sender's retry-until-Ack behaviour and the sandbox's SOQL subset."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask, Response, request

from adapters.base import ConnectionInfo, FieldUpdate
from adapters.salesforce import SalesforceAdapter
from cem_engine.engine import analyze
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.soql import SoqlError, execute, parse
from sandbox.salesforce.webhooks import acknowledged, retry_schedule
from sandbox.server import ServerThread
from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookTarget
from webhooks.events import ChangeEvent
from webhooks.salesforce import SalesforceReceiver

from .test_salesforce_adapter import RECORDS

logging.getLogger("werkzeug").setLevel(logging.ERROR)
SECRET = "om-secret-0123456789"


class Listener:
    """A minimal HTTP front for the receiver, with a switch to fail the first deliveries."""

    def __init__(self, target: WebhookTarget) -> None:
        self.events: list[ChangeEvent] = []
        self.fail_first = 0
        self.statuses: list[int] = []
        app = Flask("om-listener")
        receiver = SalesforceReceiver()

        @app.post("/webhooks/salesforce/1")
        def webhook() -> Response:
            if self.fail_first:
                self.fail_first -= 1
                self.statuses.append(500)
                return Response("busy", status=500)
            inbound = InboundRequest(request.method, request.url, CaseInsensitiveDict(dict(request.headers)),
                                     request.get_data(), dict(request.args))
            answer = receiver.handle(inbound, [target], lambda _, batch: self.events.extend(batch) or len(batch))
            self.statuses.append(answer.status)
            return Response(answer.body, status=answer.status, content_type=answer.content_type)

        self.server = ServerThread(app).start()


@pytest.fixture
def org() -> Iterator[tuple[SalesforceSandbox, SalesforceAdapter, Listener]]:
    box = SalesforceSandbox(time_scale=0.0005)
    box.seed(RECORDS)
    box.start()
    settings, credentials = box.connection_settings()
    adapter = SalesforceAdapter(ConnectionInfo(1, "salesforce", settings, credentials))
    facts = adapter.check_connection()
    adapter.provision()
    listener = Listener(WebhookTarget(1, facts["account_id"], [SECRET], settings))
    box.subscribe(f"{listener.server.url}/webhooks/salesforce/1", SECRET)
    yield box, adapter, listener
    box.stop()
    listener.server.stop()


def test_outbound_message_to_fields_on_the_contact(org: tuple[SalesforceSandbox, SalesforceAdapter, Listener]) -> None:
    box, adapter, listener = org
    c1 = box.native_contact_id("c1")
    box.add_interaction({"contact_id": "c1", "kind": "email", "direction": "inbound",
                         "occurred_at": "2026-09-18T09:00:00Z", "subject": "Still broken",
                         "body": "This is terrible, I am furious and thinking about cancelling."})
    assert box.sender.wait_idle(10)
    assert listener.statuses == [200]
    [event] = listener.events
    assert event.event_id.startswith("om:") and event.object_type == "email" and not event.own_write
    contacts = adapter.contacts_for(event.object_type, event.object_id)
    assert contacts == [c1]
    now = datetime(2026, 9, 20, tzinfo=UTC)
    profile = analyze(adapter.fetch_contact(c1), now=now)
    result = adapter.write_fields([FieldUpdate(c1, profile.fields(now))])
    assert result.succeeded == [c1]
    record = box.contact_record(c1)
    assert record["CEM_Journey_Stage__c"] == profile.journey_stage
    assert record["CEM_Churn_Reason__c"] == profile.churn_reason
    assert record["CEM_Emotion_Score__c"] == round(profile.emotion_score, 1)
    # our own write comes back as an outbound message and is recognised as such
    box.emit_contact_changes([c1])
    assert box.sender.wait_idle(10)
    assert listener.events[-1].object_id == c1 and listener.events[-1].own_write


def test_sender_retries_until_acknowledged(org: tuple[SalesforceSandbox, SalesforceAdapter, Listener]) -> None:
    box, _, listener = org
    listener.fail_first = 3
    ids = box.contact_ids()
    assert box.emit_contact_changes(ids) == len(ids)
    assert box.sender.wait_idle(20)
    [delivery] = box.sender.deliveries
    assert delivery.delivered and delivery.statuses == [500, 500, 500, 200]
    assert {e.object_id for e in listener.events} == set(ids)


def test_wrong_token_is_never_acknowledged_and_retried(org: tuple[SalesforceSandbox, SalesforceAdapter, Listener],
                                                       ) -> None:
    box, _, listener = org
    box.subscribe(f"{listener.server.url}/webhooks/salesforce/1", "wrong-token")
    box.sender.retry_delays = box.sender.retry_delays[:3]  # keep the test short; the schedule is checked below
    box.emit_contact_changes(box.contact_ids()[:1])
    assert box.sender.wait_idle(20)
    [delivery] = box.sender.deliveries
    assert delivery.abandoned and delivery.statuses == [401, 401, 401, 401] and not listener.events


def test_retry_schedule_matches_salesforce() -> None:
    delays = retry_schedule()
    assert delays[0] == 15 and max(delays) == 7200 and sum(delays) <= 24 * 3600
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert acknowledged(200, b"<soapenv:Body><notificationsResponse><Ack>true</Ack></notificationsResponse>")
    assert not acknowledged(200, b"<Ack>false</Ack>") and not acknowledged(500, b"<Ack>true</Ack>")


def test_outbound_messages_hold_at_most_100_notifications(
        org: tuple[SalesforceSandbox, SalesforceAdapter, Listener]) -> None:
    box, _, listener = org
    ids = [box.store.insert("Contact", {"LastName": f"N{n}"}, user_id=None) for n in range(230)]
    assert box.emit_contact_changes(ids) == 230
    assert box.sender.wait_idle(20)
    assert len(box.sender.deliveries) == 3 and len(listener.events) == 230


# -- the sandbox's SOQL subset ------------------------------------------------------------------------
ROWS = [{"Id": "0030000000000AAAAA", "Name": "Ann", "Amount": 5, "CreatedDate": "2026-09-01T00:00:00.000+0000"},
        {"Id": "0030000000000BBAAA", "Name": "bob", "Amount": None, "CreatedDate": "2026-09-03T00:00:00.000+0000"},
        {"Id": "0030000000000CCAAA", "Name": "Cy", "Amount": 9, "CreatedDate": "2026-09-02T00:00:00.000+0000"}]


def _resolve(name: str) -> str:
    for known in ROWS[0]:
        if known.lower() == name.lower():
            return known
    raise SoqlError("INVALID_FIELD", name)


@pytest.mark.parametrize(("soql", "expected"), [
    ("select id from Contact where name = 'BOB'", ["0030000000000BBAAA"]),
    ("SELECT Id FROM Contact WHERE Amount > 4 AND (Name LIKE 'a%' OR Name = 'Cy') ORDER BY Amount DESC",
     ["0030000000000CCAAA", "0030000000000AAAAA"]),
    ("SELECT Id FROM Contact WHERE CreatedDate > 2026-09-01T12:00:00Z ORDER BY CreatedDate LIMIT 1",
     ["0030000000000CCAAA"]),
    ("SELECT Id FROM Contact WHERE Id IN ('0030000000000AAAA', '0030000000000CCAAA') ORDER BY Id",
     ["0030000000000AAAAA", "0030000000000CCAAA"]),
    ("SELECT Id FROM Contact WHERE Amount = null", ["0030000000000BBAAA"]),
    ("SELECT Id FROM Contact WHERE NOT Name LIKE 'a%' ORDER BY Name OFFSET 1", ["0030000000000CCAAA"]),
])
def test_soql_subset(soql: str, expected: list[str]) -> None:
    assert [r["Id"] for r in execute(parse(soql), ROWS, _resolve)] == expected


@pytest.mark.parametrize("soql", ["SELECT FROM Contact", "SELECT Id FROM Contact WHERE", "SELECT Id Contact",
                                  "SELECT Id FROM Contact WHERE Name = 'x' LIMIT -1", "SELECT Nope FROM Contact"])
def test_soql_errors_are_salesforce_errors(soql: str) -> None:
    with pytest.raises(SoqlError):
        execute(parse(soql), ROWS, _resolve)
