"""Scenario 13.3b: Redis comes back empty (no persistence, a failover to an empty replica).

Webhooks were acknowledged (so the CRM will not resend them) and their jobs were waiting in Redis
when it lost its data: those changes exist only in the CRM now. The worker (a real
``cem-connector worker`` process, paused while this happens) must notice that Redis lost its data
(a marker key that only a data loss removes) and reconcile every connection at once, instead of the
next scheduled round up to CEM_RECONCILE_INTERVAL (15 minutes) later.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import customer_email, exchange_contact_ids, first_sync
from .world import scenario_world

CHANGED = 3
HEAL_WITHIN = 30.0


def run(platform: str, directory: Path, contacts: int = 6) -> Row:
    row = Row("13.3b Redis lost its data: reconcile at once", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        worker = world.spawn_worker()
        time.sleep(3.0)  # its first heartbeats
        exchange_ids = exchange_contact_ids(records)[:CHANGED]
        native = [world.sandbox.native_contact_id(t) for t in exchange_ids]
        before = {c: len(world.writes.of(c)) for c in native}
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            for target in exchange_ids:  # acknowledged webhooks whose jobs wait in Redis
                row.sent += world.deliver(world.capture(
                    lambda t=target: world.sandbox.add_interaction(customer_email(t, "lost"))))
            world.wait_deliveries(timeout=30)
            world.runtime.redis.flushall()  # Redis restarts empty
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        lost_at = time.monotonic()
        healed_in = None
        while time.monotonic() - lost_at < HEAL_WITHIN:
            if all(len(world.writes.of(c)) > before[c] for c in native):
                healed_in = time.monotonic() - lost_at
                break
            time.sleep(0.5)
        world.drain(timeout=60, inline=False)
        check = check_contacts(world, ids)
        crm_writes = {c: len(world.writes.of(c)) - (1 if c in native else 0) for c in ids}
        unhealed = {c for c in native if len(world.writes.of(c)) <= before[c]}  # their change never reached the CRM
        row.applied = len(set(check.applied) - unhealed)
        row.lost = len(set(check.lost) | unhealed)
        row.duplicates = world.writes.duplicates(crm_writes)
        row.ok = row.lost == 0 and row.duplicates == 0 and healed_in is not None
        row.detail = (f"{CHANGED} acknowledged changes lost with Redis; "
                      + (f"healed {healed_in:.1f}s after the loss" if healed_in is not None
                         else f"not healed within {HEAL_WITHIN:.0f}s"))
    return row

