"""Contract: every adapter fills the engine's normalised interaction schema (cem_engine.schema).

Vendor-shaped records (HubSpot objects, Salesforce rows, Dataverse rows) go through each adapter's own
mapping code; the engine must read the same meaning from all three: ticket status and priority, and
call outcome where the CRM records it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.dynamics.read import case_interaction as dynamics_case
from adapters.hubspot.mapping import call_interaction as hubspot_call
from adapters.hubspot.mapping import ticket_interaction as hubspot_ticket
from adapters.salesforce.mapping import case_interaction as salesforce_case
from adapters.salesforce.mapping import task_interaction as salesforce_task
from cem_engine import Interaction, schema

WHEN = "2026-05-01T10:00:00Z"


def _hubspot_ticket(stage: str, priority: str) -> Interaction | None:
    return hubspot_ticket({"id": "7", "properties": {"createdate": WHEN, "subject": "Export", "content": "Broken",
                                                     "hs_pipeline_stage": stage, "hs_ticket_priority": priority,
                                                     "hs_ticket_category": "PRODUCT_ISSUE"}}, "c1")


def _salesforce_case(status: str, closed: bool, priority: str) -> Interaction:
    return salesforce_case({"Id": "500x", "CaseNumber": "0001", "Subject": "Export", "Description": "Broken",
                            "Status": status, "IsClosed": closed, "Priority": priority, "CreatedDate": WHEN,
                            "Origin": "Email"}, "c1")


def _dynamics_case(statecode: int) -> Interaction:
    return dynamics_case({"incidentid": "inc-1", "title": "Export", "description": "Broken", "ticketnumber": "CAS-1",
                          "createdon": WHEN, "statecode": statecode}, "c1")


TICKETS: list[tuple[str, Callable[[], Any], str, str | None]] = [
    ("hubspot new", lambda: _hubspot_ticket("1", "HIGH"), "new", "high"),
    ("hubspot waiting on contact", lambda: _hubspot_ticket("2", "LOW"), "pending", "low"),
    ("hubspot closed", lambda: _hubspot_ticket("4", "URGENT"), "closed", "urgent"),
    ("salesforce working", lambda: _salesforce_case("Working", False, "High"), "open", "high"),
    ("salesforce escalated", lambda: _salesforce_case("Escalated", False, "Medium"), "escalated", "urgent"),
    ("salesforce closed (custom status name)", lambda: _salesforce_case("Done & dusted", True, "Low"), "closed",
     "low"),
    ("dynamics active", lambda: _dynamics_case(0), "open", None),
    ("dynamics resolved", lambda: _dynamics_case(1), "solved", None),
    ("dynamics cancelled", lambda: _dynamics_case(2), "closed", None),
]


@pytest.mark.parametrize(("record", "status", "priority"), [t[1:] for t in TICKETS], ids=[t[0] for t in TICKETS])
def test_ticket_status_and_priority_reach_the_engine(record: Callable[[], Interaction], status: str,
                                                     priority: str | None) -> None:
    interaction = record()
    assert interaction.kind == "ticket"
    meta = interaction.metadata
    assert schema.ticket_status(meta) == status
    if priority is not None:
        assert schema.ticket_priority(meta, schema.ticket_status(meta)) == priority


def test_hubspot_ticket_category_is_readable_words() -> None:
    ticket = _hubspot_ticket("1", "LOW")
    assert ticket is not None and ticket.metadata["category"] == "Product issue"


@pytest.mark.parametrize(("disposition", "outcome"), [
    ("f240bbac-87c9-4f6e-bf70-924b57d47db7", "connected"), ("73a0d17f-1163-4015-bdd5-ec830791da20", "no_answer"),
    ("b2cf5968-551e-4856-9783-52b3da59a7d0", "voicemail"), ("9d9162e7-6cf3-4944-bf63-4dff82258764", "busy"),
])
def test_hubspot_call_outcome(disposition: str, outcome: str) -> None:
    call = hubspot_call({"id": "9", "properties": {"hs_timestamp": WHEN, "hs_call_title": "Call",
                                                   "hs_call_disposition": disposition}}, "c1")
    assert call is not None and schema.call_outcome(call.metadata, call.body) == outcome


@pytest.mark.parametrize(("disposition", "outcome"), [("Left Voicemail", "voicemail"), ("No Answer", "no_answer"),
                                                     ("Connected", "connected"), (None, "connected")])
def test_salesforce_call_outcome(disposition: str | None, outcome: str) -> None:
    call = salesforce_task({"Id": "00T1", "Subject": "Call", "Description": "", "TaskSubtype": "Call",
                            "CallType": "Outbound", "CallDisposition": disposition, "CreatedDate": WHEN}, "c1")
    assert call.kind == "call" and schema.call_outcome(call.metadata, call.body) == outcome


# -- who wrote it: a rep's note is never the customer's words nor a system record, on any CRM ---------------
def _dynamics_note() -> Interaction:
    from adapters.dynamics.read import note_interaction

    return note_interaction({"annotationid": "an-1", "subject": "Internal", "createdon": WHEN,
                             "notetext": "Internal: terrible contract terms, I hate their pricing exceptions."}, "c1")


def _hubspot_note() -> Interaction | None:
    from adapters.hubspot.mapping import note_interaction

    return note_interaction({"id": "9", "properties": {"hs_timestamp": WHEN, "hs_note_body": "Internal vent"}}, "c1")


def _salesforce_note() -> Interaction:
    return salesforce_task({"Id": "00T1", "Subject": "Note", "Description": "Internal vent", "Type": "Other",
                            "TaskSubtype": "Task", "CreatedDate": WHEN, "ActivityDate": "2026-05-01"}, "c1")


@pytest.mark.parametrize("record", [_dynamics_note, _hubspot_note, _salesforce_note],
                         ids=["dynamics", "hubspot", "salesforce"])
def test_notes_are_written_by_reps_on_every_crm(record: Callable[[], Interaction]) -> None:
    interaction = record()
    assert interaction.kind == "note" and interaction.effective_author == "rep"


def test_dynamics_activities_are_the_customers_only_when_incoming() -> None:
    from adapters.dynamics.read import activity_interaction

    row = {"activityid": "a-1", "subject": "Re: renewal", "description": "x", "createdon": WHEN}
    assert activity_interaction({**row, "directioncode": False}, "c1", "email", True).effective_author == "customer"
    assert activity_interaction({**row, "directioncode": True}, "c1", "email", True).effective_author == "rep"
    assert activity_interaction(row, "c1", "task", False).effective_author == "rep"
    assert case_author() == "customer"


def case_author() -> str:
    return _dynamics_case(0).effective_author
