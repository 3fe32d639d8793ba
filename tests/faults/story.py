"""What the round-two scenarios (issue 13) have the customers do: a first sync, then new emails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .world import World

CANCEL = ("We have decided to cancel our contract and move to another vendor. Please send me the termination "
          "terms and confirm the notice period.")


def first_sync(world: World) -> int:
    """Every contact's change webhook delivered and every contact written; returns the events sent."""
    ids = world.contact_ids()
    sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(ids)))
    world.drain(until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
    return sent


def exchange_contact_ids(records: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(r["contact_id"]) for r in records if r.get("record") == "contact"]


def customer_email(exchange_contact_id: str, label: str, body: str = CANCEL) -> dict[str, object]:
    """An inbound email written now (exchange format), by default one that makes the contact at risk."""
    return {"record": "interaction", "contact_id": exchange_contact_id, "id": f"{label}-{exchange_contact_id}",
            "kind": "email", "direction": "inbound", "author": "customer", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": label, "body": body}


def send_email(world: World, exchange_contact_id: str, label: str, body: str = CANCEL) -> int:
    """The customer writes and the CRM sends its webhook through the connector; returns the events sent."""
    return world.deliver(world.capture(
        lambda: world.sandbox.add_interaction(customer_email(exchange_contact_id, label, body))))
