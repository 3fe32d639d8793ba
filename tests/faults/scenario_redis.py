"""Scenario 3: Redis is stopped during a run and started again.

While it is down the receivers must answer 503 (never 200-and-drop) so the CRM retries later; once it
is back every event must be applied once. Dataverse retries an async webhook only once (on 502/503/504),
so deliveries it abandons during the outage are healed the documented way: `cem-connector reconcile`.
"""

from __future__ import annotations

import time
from pathlib import Path

from sandbox.dataset import demo_records

from .outcome import Row, score
from .world import RETRY_TIME_SCALE, scenario_world

OUTAGE_SECONDS = 3.0


def run(platform: str, directory: Path, contacts: int = 30) -> Row:
    row = Row("3 Redis stopped and restarted", platform)
    with scenario_world(row, platform, directory, demo_records(contacts),
                        sandbox_options={"time_scale": RETRY_TIME_SCALE[platform]}) as world:
        ids = world.contact_ids()
        before, during = ids[: len(ids) // 2], ids[len(ids) // 2:]
        world.spawn_worker()
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(before)))
        world.drain(inline=False, until=lambda: world.idle() and all(world.writes.of(c) for c in before))

        world.redis.stop()
        first_new = len(world.sandbox.sender.deliveries)
        row.sent += world.sandbox.emit_contact_changes(during)  # the CRM's own sender, with its retries
        time.sleep(OUTAGE_SECONDS)
        outage = world.sandbox.sender.deliveries[first_new:]
        refused = sum(1 for d in outage for status in d.statuses if status == 503)
        accepted_while_down = sum(1 for d in outage for status in d.statuses if status is not None and status < 300)
        world.redis.start()

        world.wait_deliveries(timeout=60)
        abandoned, healed = world.heal_abandoned(outage)
        world.drain(timeout=90, inline=False, until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        world.drain(timeout=30, inline=False)
        score(row, world, ids)
        row.ok = row.lost == 0 and row.duplicates == 0 and refused > 0 and accepted_while_down == 0
        row.detail = (f"{refused} deliveries answered 503 while Redis was down, {accepted_while_down} accepted "
                      f"while down{healed}")
        row.figures = {"refused_503": refused, "abandoned": abandoned}
    return row
