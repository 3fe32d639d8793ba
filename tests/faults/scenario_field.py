"""Scenario 13.4: an admin deletes one CEM field in the CRM after install.

Customers keep writing; the connector's writes name the deleted field. Expected: every field that
still exists is written (stage, emotion, risk, reason...), the missing one is dead-lettered per
contact with "field ... is missing: run `cem-connector install`", which `status` shows. After the
admin runs `cem-connector install` and `cem-connector replay`, the missing values are written too,
and nothing is written twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from adapters.fields import FIELDS_BY_KEY
from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import exchange_contact_ids, first_sync, send_email
from .world import World, scenario_world

DELETED = "emotion_score"
KEPT = ("journey_stage", "emotion", "churn_risk", "churn_reason")


def run(platform: str, directory: Path, contacts: int = 5) -> Row:
    row = Row("13.4 a CEM field deleted in the CRM", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records, max_attempts=2) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        before = {c: len(world.writes.of(c)) for c in ids}
        native = world.adapter.native_field_name(FIELDS_BY_KEY[DELETED])
        restore = _delete_field(world, native)
        for exchange_id in exchange_contact_ids(records):
            row.sent += send_email(world, exchange_id, "field")
        world.drain(timeout=120)
        written_kept = sum(1 for c in ids if any(set(KEPT) & set(w.values) for w in world.writes.of(c)[before[c]:]))
        status = world.cli("status", "--json")
        errors = json.loads(status.stdout or "{}").get("errors", []) if status.returncode == 0 else []
        told = [e for e in errors if native.lower() in str(e.get("error", "")).lower()
                and "cem-connector install" in str(e.get("error", ""))]
        restore()
        install = world.cli("install", platform, "--connection", str(world.connection_id))
        replay = world.cli("replay")
        world.drain(timeout=120)
        check = check_contacts(world, ids)
        row.applied = len(check.applied)
        row.lost = len(check.lost) + (len(ids) - written_kept)  # contacts whose other fields waited on one field
        row.duplicates = world.writes.noop_writes()
        row.ok = (row.lost == 0 and row.duplicates == 0 and written_kept == len(ids) and len(told) >= 1
                  and install.returncode == 0 and replay.returncode == 0)
        row.detail = (f"'{native}' deleted: {written_kept}/{len(ids)} contacts still got their other fields; "
                      f"{len(told)} error(s) in status naming the field and `cem-connector install`"
                      + (f" (e.g. {told[0]['error'][:90]!r})" if told else
                         f" (errors said: {errors[0]['error'][:90]!r})" if errors else "")
                      + f"; after install + replay {len(check.applied)}/{len(ids)} applied")
    return row


def _delete_field(world: World, native: str):  # type: ignore[no-untyped-def]
    """Delete the field the way each CRM's setup UI does; returns how to put the sandbox back for install."""
    sandbox = world.sandbox
    if world.platform == "hubspot":
        properties = sandbox.store.properties["contacts"]
        properties.pop(native)
        return lambda: None  # install creates it again
    if world.platform == "salesforce":
        store = sandbox.store
        field_id = next(i for i, f in store.custom_fields.items() if f.sobject == "Contact" and f.api_name == native)
        store.custom_fields.pop(field_id)
        return lambda: None
    sandbox.org.attributes.pop(native.lower())
    return lambda: None

