"""Scenario 11: intake backpressure (issue 13.10). With no worker running, the connection's inbox fills
past its depth: receivers must answer 503 with a Retry-After (never 200-and-drop, never unbounded
memory) so the CRM retries later; once a worker drains the backlog every event is applied once.
Dataverse retries only once, so deliveries it abandons are healed the documented way (reconcile).
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from connector.queue import deliveries
from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .world import RETRY_TIME_SCALE, scenario_world

INBOX_LIMIT = 10  # events waiting per connection before intake sheds load (production: 50,000)
# The inbox stays full for up to ~30 s here (no worker while six deliveries arrive), against a Redis outage
# of a few seconds in RETRY_TIME_SCALE: HubSpot's 21 hours of retries must still outlast it once shrunk, as
# they outlast a real backlog (at 0.0002 HubSpot gave up after 15 s and the row failed on an old change
# that no reconcile window covers). Dataverse still abandons (it retries once): reconcile heals that.
TIME_SCALE = {**RETRY_TIME_SCALE, "hubspot": 0.001}


def run(platform: str, directory: Path, contacts: int = 30) -> Row:
    row = Row("11 backpressure (inbox full)", platform)
    with scenario_world(row, platform, directory, demo_records(contacts),
                        sandbox_options={"time_scale": TIME_SCALE[platform]}) as world:
        with patch.object(deliveries, "INBOX_LIMIT", INBOX_LIMIT):  # the web app runs in this process
            ids = world.contact_ids()
            first = len(world.sandbox.sender.deliveries)
            for start in range(0, len(ids), 5):  # several deliveries, so some arrive at a full inbox
                row.sent += world.sandbox.emit_contact_changes(ids[start:start + 5])
                world.sandbox.sender.wait_idle(timeout=5)
            sent = world.sandbox.sender.deliveries[first:]
            refused = sum(1 for d in sent for status in d.statuses if status == 503)
            backlog = world.runtime.queue.deliveries.backlog(world.connection_id)
        world.spawn_worker()
        world.wait_deliveries(timeout=120)
        abandoned, healed = world.heal_abandoned(sent)
        world.drain(timeout=120, inline=False, until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        world.drain(timeout=30, inline=False)
        check = check_contacts(world, ids)
        row.applied, row.lost = len(check.applied), len(check.lost)
        row.duplicates = world.writes.duplicates({c: len(world.writes.of(c)) for c in ids})
        row.ok = row.lost == 0 and row.duplicates == 0 and refused > 0 and backlog <= INBOX_LIMIT + 5
        row.detail = (f"inbox held {backlog} events at most (limit {INBOX_LIMIT}); {refused} deliveries answered "
                      f"503 + Retry-After, retried by the CRM{healed}")
        row.figures = {"refused_503": refused, "backlog": backlog, "abandoned": abandoned}
    return row
