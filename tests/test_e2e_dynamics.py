"""Dynamics end to end without the queue: sandbox webhook -> receiver over HTTP -> adapter -> engine -> $batch.

The sandbox posts real ``RemoteExecutionContext`` bodies (WebhookKey ``?code=``) to a small HTTP
endpoint wrapping ``DynamicsReceiver``; events are then processed inline the way the worker does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, Response, request

import cem_engine
from adapters.base import FieldUpdate
from adapters.dynamics import DynamicsAdapter
from sandbox.dynamics import DynamicsSandbox
from sandbox.server import ServerThread
from tests.test_adapter_dynamics import RECORDS, adapter_for
from webhooks.base import CaseInsensitiveDict, InboundRequest, WebhookTarget
from webhooks.dynamics import DynamicsReceiver
from webhooks.events import ChangeEvent

logging.getLogger("werkzeug").setLevel(logging.ERROR)
SECRET = "webhook-key-0123456789"


class Endpoint:
    """POST /webhooks/dynamics/1 -> DynamicsReceiver.handle, collecting events; optional canned failures."""

    def __init__(self, target: WebhookTarget) -> None:
        self.events: list[ChangeEvent] = []
        self.statuses: list[int] = []
        self.fail_with: list[int] = []  # statuses to answer before accepting
        self._lock = threading.Lock()
        app = Flask("endpoint")

        @app.post("/webhooks/dynamics/1")
        def receive() -> Response:
            with self._lock:
                if self.fail_with:
                    status = self.fail_with.pop(0)
                    self.statuses.append(status)
                    return Response("busy", status=status)
            inbound = InboundRequest(request.method, request.url, CaseInsensitiveDict(dict(request.headers)),
                                     request.get_data(), dict(request.args))
            answer = DynamicsReceiver().handle(inbound, [target], self._sink)
            with self._lock:
                self.statuses.append(answer.status)
            return Response(answer.body, status=answer.status, content_type=answer.content_type)

        self.server = ServerThread(app).start()
        self.url = f"{self.server.url}/webhooks/dynamics/1"

    def _sink(self, connection_id: int, events: list[ChangeEvent]) -> int:
        with self._lock:
            self.events.extend(events)
        return len(events)


@pytest.fixture
def world() -> Iterator[tuple[DynamicsSandbox, DynamicsAdapter, Endpoint]]:
    crm = DynamicsSandbox()
    crm.start()
    crm.seed(RECORDS)
    adapter = adapter_for(crm)
    facts = adapter.check_connection()
    target = WebhookTarget(1, facts["account_id"], (SECRET,), {"application_user_id": facts["application_user_id"]})
    endpoint = Endpoint(target)
    adapter = adapter_for(crm, webhook_url=endpoint.url)
    adapter.connection.credentials["webhook_secret"] = SECRET  # type: ignore[index]
    adapter.provision()
    yield crm, adapter, endpoint
    crm.stop()
    endpoint.server.stop()


def process(adapter: DynamicsAdapter, events: list[ChangeEvent]) -> dict[str, Any]:
    """What the worker does, inline: resolve contacts, fetch, analyze, write."""
    contacts: set[str] = set()
    for event in events:
        if event.own_write:
            continue
        contacts |= set(event.contact_ids) or set(adapter.contacts_for(event.object_type, event.object_id))
    now = datetime.now(UTC)
    updates = [FieldUpdate(c, cem_engine.analyze(adapter.fetch_contact(c), now=now).fields(now))
               for c in sorted(contacts)]
    result = adapter.write_fields(updates)
    return {"contacts": sorted(contacts), "result": result}


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    assert predicate()


def test_inbound_email_webhook_ends_as_cem_values_on_the_contact(world: Any) -> None:
    crm, adapter, endpoint = world
    contact = crm.native_contact_id("c1")
    crm.add_interaction({"contact_id": "c1", "id": "e2e-1", "kind": "email", "direction": "inbound",
                         "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                         "subject": "Still stuck", "body": "This setup is confusing and frustrating, nothing works."})
    crm.sender.wait_idle(10)
    [event] = endpoint.events
    assert (event.object_type, event.contact_ids, event.own_write) == ("email", (contact,), False)
    outcome = process(adapter, endpoint.events)
    assert outcome["contacts"] == [contact] and outcome["result"].succeeded == [contact]
    record = crm.contact_record(contact)
    spec = {s.key: s for s in adapter.fields}
    assert adapter.naming.option_key(spec["journey_stage"], record["cem_cemjourneystage"]) in cem_engine.JOURNEY_STAGES
    assert record["cem_cememotionscore"] < 0 and record["cem_cemchurnreasondetail"]
    # Our own $batch PATCH changed only CEM columns: the filtered Update step stays silent (no loop).
    time.sleep(0.2)
    crm.sender.wait_idle(10)
    assert len(endpoint.events) == 1


def test_rep_edit_arrives_and_own_writes_are_recognised(world: Any) -> None:
    crm, adapter, endpoint = world
    contact = crm.native_contact_id("c2")
    assert crm.emit_contact_changes([contact]) == 1
    crm.sender.wait_idle(10)
    assert [(e.kind, e.own_write) for e in endpoint.events] == [("contact.changed", False)]
    # An app-user change to a filtered column does come back; the receiver marks it as ours.
    crm.org.update("contacts", contact, {"firstname": "Bo"}, user_id=crm.org.application_user_id)
    crm.sender.wait_idle(10)
    assert [e.own_write for e in endpoint.events] == [False, True]
    assert process(adapter, endpoint.events[1:])["contacts"] == []


def test_async_step_is_retried_once_on_503_but_not_on_500(world: Any) -> None:
    crm, _, endpoint = world
    endpoint.fail_with = [503]
    crm.emit_contact_changes([crm.native_contact_id("c1")])
    wait_for(lambda: crm.sender.pending() == 0)
    assert endpoint.statuses == [503, 200] and len(endpoint.events) == 1
    endpoint.fail_with = [500]
    crm.emit_contact_changes([crm.native_contact_id("c1")])
    wait_for(lambda: crm.sender.pending() == 0)
    assert endpoint.statuses == [503, 200, 500] and len(endpoint.events) == 1
    assert crm.sender.deliveries[-1].abandoned


def test_retried_delivery_has_the_same_event_id(world: Any) -> None:
    crm, _, endpoint = world
    endpoint.fail_with = [502]
    delivery_count = len(crm.sender.deliveries)
    crm.emit_contact_changes([crm.native_contact_id("c1")])
    wait_for(lambda: crm.sender.pending() == 0)
    delivery = crm.sender.deliveries[delivery_count]
    assert delivery.statuses == [502, 200]
    first = DynamicsReceiver().parse(InboundRequest("POST", endpoint.url, CaseInsensitiveDict(), delivery.body))
    assert first[0].event_id == endpoint.events[-1].event_id


def test_wrong_key_is_401_and_never_retried(world: Any) -> None:
    crm, _, endpoint = world
    endpoint_row = next(iter(crm.org.rows["serviceendpoints"].values()))
    endpoint_row["authvalue"] = "stale-key"
    crm.emit_contact_changes([crm.native_contact_id("c1")])
    wait_for(lambda: crm.sender.pending() == 0)
    assert endpoint.statuses == [401] and not endpoint.events
