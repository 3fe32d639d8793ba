"""Scenario 9: GDPR. A contact deletion (the CRM's deletion webhook, or `cem-connector forget`) removes
everything stored about the person: the test reads every table of the database (all columns, as text),
every ``cem:`` key in Redis and every RQ job record (its arguments), and finds the person's id nowhere;
other contacts are untouched.

Deletion webhooks: HubSpot ``contact.deletion`` + ``contact.privacyDeletion``; Dataverse's Delete
step; Salesforce has no outbound message for deletions, so the signed JSON endpoint carries the
deletion as a Change Data Capture relay would (``changeType: DELETE``).
"""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path

from connector.redis_conn import as_text
from sandbox.dataset import demo_records

from .mentions import id_needles, id_pattern, tables_naming
from .outcome import Row
from .webhook_http import post
from .world import World, scenario_world


def run(platform: str, directory: Path, contacts: int = 6) -> Row:
    row = Row("9 GDPR deletion (webhook + forget)", platform)
    with scenario_world(row, platform, directory, demo_records(contacts), max_attempts=1) as world:
        ids = world.contact_ids()
        deleted, forgotten, kept = ids[0], ids[1], ids[2:]
        row.sent = world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes(ids)))
        world.drain(until=lambda: world.idle() and all(world.writes.of(c) for c in ids))
        # leave a dead letter and activity about each person, so every table holds something about them
        world.faults.set_down(503)
        row.sent += world.deliver(world.capture(lambda: world.sandbox.emit_contact_changes([deleted, forgotten])))
        world.drain()
        world.faults.set_down(None)
        before = {c: _mentions(directory, world, c) for c in (deleted, forgotten)}

        row.sent += _delete_in_crm(world, deleted)
        world.drain()
        forget = world.cli("forget", forgotten, "--connection", str(world.connection_id))
        world.drain()

        after = {c: _mentions(directory, world, c) for c in (deleted, forgotten)}
        survivors = [c for c in kept if _mentions(directory, world, c)]
        row.applied = sum(1 for c in (deleted, forgotten) if not after[c])
        row.lost = 2 - row.applied  # here: people whose data is still stored
        row.ok = (not after[deleted] and not after[forgotten] and forget.returncode == 0
                  and all(before.values()) and len(survivors) == len(kept))
        row.detail = (f"before: {', '.join(sorted(set(before[deleted]) | set(before[forgotten])))}; after deletion "
                      f"webhook: {after[deleted] or 'nothing'}; after forget: {after[forgotten] or 'nothing'}; "
                      f"{len(survivors)}/{len(kept)} other contacts kept")
    return row


def _delete_in_crm(world: World, contact_id: str) -> int:
    sandbox = world.sandbox
    if world.platform == "hubspot":
        return world.deliver(world.capture(lambda: sandbox.emit_deletion(contact_id)))
    if world.platform == "dynamics":
        return world.deliver(world.capture(lambda: sandbox.org.delete("contacts", contact_id,
                                                                      user_id=sandbox.rep_user_id)))
    sandbox.store.delete("Contact", contact_id)
    body = json.dumps({"organizationId": sandbox.store.org_id, "events": [{
        "id": f"del-{contact_id}", "object": "Contact", "recordId": contact_id, "changeType": "DELETE",
        "commitTimestamp": int(time.time() * 1000), "commitUser": sandbox.store.admin_id}]}).encode()
    answer = post(world, body, ctype="application/json")
    return 1 if answer.status == 200 else 0


def _mentions(directory: Path, world: World, contact_id: str) -> list[str]:
    """Where the contact's id still appears: '<table>' for database rows, 'redis <key>' for cem: keys."""
    needles = id_needles(contact_id)
    pattern = id_pattern(contact_id)
    found = tables_naming(directory, contact_id)
    redis = world.runtime.redis
    for key in redis.scan_iter(match=f"{world.runtime.queue.prefix}*", count=500):
        name = as_text(key)
        kind = as_text(redis.type(key))
        members = [] if kind != "set" else [as_text(m).lower() for m in redis.smembers(key)]
        # a key names a person only as a whole segment (pending:<conn>:<contact>); shard numbers, connection
        # ids and buckets are segments too, so a short numeric id must equal one, not occur inside one
        if needles & set(name.lower().split(":")) or any(n == m for n in needles for m in members):
            found.append(f"redis {name.split(':', 2)[-1]}")
    for key in redis.scan_iter(match="rq:job:*", count=500):
        data = redis.hget(key, "data")
        if data and pattern.search(_plain(data).decode("latin-1").lower()):
            found.append("redis rq job record")
            break
    return sorted(set(found))


def _plain(data: bytes) -> bytes:
    """RQ stores a job's function and arguments as zlib-compressed pickle; ids are UTF-8 inside."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return data
