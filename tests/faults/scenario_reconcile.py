"""Scenario 13.3: reconcile heals interactions whose webhook was lost.

After a first sync (every contact written, and one reconcile round that sets the cursor), customers
write emails whose webhooks never arrive: activities do not touch the contact record, so a
reconcile that lists only contacts modified since its cursor never sees them. ``cem-connector
reconcile`` must also list the interaction objects changed since the cursor (HubSpot engagements
through the search API, Salesforce Task / EmailMessage / Case / CaseComment / opportunity roles by
LastModifiedDate, whoever modified them, Dataverse activities, notes, cases and opportunities by
``modifiedon``) and refresh their contacts: every contact ends with the values of its final CRM state.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from connector import jobs
from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import customer_email, exchange_contact_ids, first_sync
from .world import World, scenario_world

LOST_WEBHOOKS = 3


def run(platform: str, directory: Path, contacts: int = 8) -> Row:
    row = Row("13.3 reconcile heals lost interaction webhooks", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        # Our writes are hours old in real life; here they are seconds old, inside the reconcile's
        # overlap, and would make every contact look modified. Rounds run in this process: no overlap.
        with patch.object(jobs, "RECONCILE_OVERLAP", timedelta(0)):
            _lost_webhooks_healed(row, world, records, ids)
    return row


def _lost_webhooks_healed(row: Row, world: World, records: list[dict[str, Any]], ids: list[str]) -> None:
    """Emails whose webhooks never arrive, then one reconcile round: it must refresh their contacts."""
    time.sleep(1.1)  # CRMs stamp modification times to the second
    _reconcile(world)  # the first round sets the cursor
    time.sleep(1.1)  # and the emails come in a later second than the cursor
    exchange_ids = exchange_contact_ids(records)
    targets = exchange_ids[:LOST_WEBHOOKS]
    native = [world.sandbox.native_contact_id(t) for t in targets]
    before = {c: len(world.writes.of(c)) for c in native}
    for target in targets:  # the customer writes; the CRM's webhook is lost
        world.sandbox.add_interaction(customer_email(target, "lost"), notify=False)
    reconciled = _reconcile(world)
    check = check_contacts(world, ids)
    healed = sum(1 for c in native if len(world.writes.of(c)) > before[c])
    crm_writes = {c: len(world.writes.of(c)) - (1 if c in native else 0) for c in ids}
    unhealed = {c for c in native if len(world.writes.of(c)) <= before[c]}  # the email never counted
    row.applied = len(set(check.applied) - unhealed)
    row.lost = len(set(check.lost) | unhealed)
    row.duplicates = world.writes.duplicates(crm_writes)
    row.ok = row.lost == 0 and row.duplicates == 0 and healed == len(native) and reconciled == 0
    row.detail = (f"{len(native)} emails without webhook; reconcile refreshed and rewrote {healed}/{len(native)} "
                  f"of their contacts (reconcile exit {reconciled})")
    if check.lost:
        row.detail += f"; lost: {next(iter(check.lost.values()))[:90]}"


def _reconcile(world: World) -> int:
    result = world.cli("reconcile", "--connection", str(world.connection_id))
    world.drain()
    return result.returncode

