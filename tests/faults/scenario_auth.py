"""Scenario 13.8: the CRM stops accepting the connector's credentials.

The admin revokes them (HubSpot: the private-app token; Salesforce: the integration user's password
changes and its sessions end; Dataverse: the app's client secret is rotated). Customers keep writing:
one webhook per contact, each a job of its own. Expected: the first hard authentication failure
stops the connection (status ``needs_reconnect``, one message saying what to do), no further login
attempts (a Salesforce user locks after a few) and no dead letter per event; webhooks are still
acknowledged. After ``cem-connector connect`` with working credentials every change is applied, once.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from sandbox.dataset import demo_records

from .outcome import Row, check_contacts
from .story import exchange_contact_ids, first_sync, send_email
from .world import World, scenario_world

HEAL_WITHIN = 30.0


def run(platform: str, directory: Path, contacts: int = 6) -> Row:
    row = Row("13.8 credentials revoked: stop, one message, resume", platform)
    records = demo_records(contacts)
    with scenario_world(row, platform, directory, records, max_attempts=3) as world:
        ids = world.contact_ids()
        row.sent = first_sync(world)
        settings, credentials = world.sandbox.connection_settings()
        before_writes = {c: len(world.writes.of(c)) for c in ids}
        restore = _revoke(world)
        calls_before = _crm_auth_calls(world)
        exchange_ids = exchange_contact_ids(records)
        for exchange_id in exchange_ids:  # one webhook (and job) per contact
            row.sent += send_email(world, exchange_id, "auth")
        world.drain(timeout=120)
        refused = _crm_auth_calls(world) - calls_before
        letters = world.dead_letters()
        status = _status(world)
        restore()
        reconnect = world.cli("connect", platform, "--name", "faults", "--webhook-secret", world.secret,
                              *_pairs("--setting", settings), *_pairs("--credential", credentials))
        with contextlib.suppress(TimeoutError):  # what is not applied by then counts as lost
            world.drain(timeout=HEAL_WITHIN, until=lambda: world.idle() and all(
                len(world.writes.of(c)) > before_writes[c] for c in ids))
            world.drain(timeout=30)
        check = check_contacts(world, ids)
        unhealed = {c for c in ids if len(world.writes.of(c)) <= before_writes[c]}
        crm_writes = {c: len(world.writes.of(c)) - before_writes[c] for c in ids}
        row.applied = len(set(check.applied) - unhealed)
        row.lost = len(set(check.lost) | unhealed)
        row.duplicates = world.writes.duplicates(crm_writes)
        row.ok = (row.lost == 0 and row.duplicates == 0 and refused <= 2 and letters == 0
                  and status.get("status") == "needs_reconnect" and reconnect.returncode == 0)
        row.detail = (f"{len(exchange_ids)} webhooks after revocation: {refused} refused CRM/login call(s), "
                      f"{letters} dead letter(s), status {status.get('status') or 'none'!r}"
                      f"{': ' + str(status.get('status_detail'))[:80] if status.get('status_detail') else ''}; "
                      f"reconnect exit {reconnect.returncode}, {len(ids) - len(unhealed)}/{len(ids)} applied after")
    return row


def _revoke(world: World) -> Any:
    sandbox = world.sandbox
    if world.platform == "hubspot":
        token = sandbox.private_token
        saved = sandbox.tokens._tokens.pop(token)

        def restore() -> None:
            sandbox.tokens._tokens[token] = saved
    elif world.platform == "salesforce":
        user = sandbox.integration_username.lower()
        password = sandbox.api.passwords[user]
        sandbox.api.passwords[user] = "changed-by-the-admin"
        sandbox.api.sessions.clear()

        def restore() -> None:
            sandbox.api.passwords[user] = password
    else:
        secret = sandbox.directory.apps[sandbox.client_id]
        sandbox.directory.apps[sandbox.client_id] = "rotated-by-the-admin"
        sandbox.directory.revoke_all()

        def restore() -> None:
            sandbox.directory.apps[sandbox.client_id] = secret
    return restore


def _crm_auth_calls(world: World) -> int:
    """Requests the CRM answered after revocation: API calls (refused with 401) and Salesforce logins."""
    calls = len(world.faults.api_calls)
    if world.platform == "salesforce":
        calls += sum(1 for _, path in world.sandbox.api.calls if "/services/Soap/u/" in path)
    return calls


def _status(world: World) -> dict[str, Any]:
    result = world.cli("status", "--json")
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return {}
    return next((c for c in data.get("connections", []) if c.get("id") == world.connection_id), {})


def _pairs(option: str, values: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in values.items():
        out += [option, f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return out

