"""Scenario 5: the connector's own write comes back as a webhook -> no further write.

Each CRM is set up the way an admin could set it up so that our writes are echoed back:
- HubSpot: the app also subscribes to the cem_* properties; API writes are then notified with
  changeSource INTEGRATION and the app's id as sourceId.
- Salesforce: an outbound message on every Contact edit; after our write the record's
  LastModifiedById is the integration user, which the notification carries.
- Dataverse: the contact Update step without filtering attributes, so our own update fires it with
  InitiatingUserId = the application user.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from connector.store import Activity
from sandbox.dataset import demo_records

from .ledger import events_in
from .outcome import Row, score
from .world import World, scenario_world


def run(platform: str, directory: Path, contacts: int = 20) -> Row:
    row = Row("5 own write echoed back", platform)
    with scenario_world(row, platform, directory, demo_records(contacts)) as world:
        ids = world.contact_ids()
        _echo_our_writes(world)
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(ids)))
        mark = len(world.sandbox.sender.deliveries)
        world.drain(until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        if platform == "salesforce":  # the outbound message rule fires on our edit
            world.sandbox.notify(ids)
        world.drain()
        time.sleep(0.5)  # room for a ping-pong to start, if there were one
        world.drain()
        echo_deliveries = world.sandbox.sender.deliveries[mark:]
        echoes = sum(events_in(platform, d.body) for d in echo_deliveries)
        row.sent += echoes
        score(row, world, ids)
        recognised = _skipped_own(world)
        row.ok = row.lost == 0 and row.duplicates == 0 and echoes > 0 and recognised >= echoes
        row.detail = (f"{echoes} echo events of our own writes ({len(echo_deliveries)} deliveries), {recognised} "
                      f"recognised as own; "
                      f"{sum(len(world.writes.of(c)) for c in ids)} writes for {len(ids)} contacts")
        row.figures = {"echo_events": echoes, "recognised_own": recognised}
    return row


def _echo_our_writes(world: World) -> None:
    sandbox = world.sandbox
    if world.platform == "hubspot":
        own = tuple(world.adapter.native_field_name(spec) for spec in world.adapter.fields)
        sandbox.events.subscribed_properties = (*sandbox.events.subscribed_properties, *own)
    elif world.platform == "dynamics":
        for step in sandbox.org.rows["sdkmessageprocessingsteps"].values():
            if step.get("name") == "CEM: contact Update":
                step["filteringattributes"] = None


def _skipped_own(world: World) -> int:
    with world.runtime.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(Activity).where(
            Activity.connection_id == world.connection_id, Activity.action == "skipped_own")) or 0)
