"""Connections: one per CRM account, several per install, secrets encrypted at rest."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from adapters.base import ConnectionInfo, CRMAdapter
from adapters.errors import AuthenticationError
from adapters.fields import CEM_FIELDS, FieldSpec
from webhooks.base import WebhookTarget

from .crypto import SecretBox
from .errors import ConnectionNotFound, ConnectorError
from .registry import get_platform
from .store import Connection, Store

NEEDS_RECONNECT = "needs_reconnect"


class NeedsReconnect(ConnectorError, AuthenticationError):
    """The CRM refused this connection's credentials earlier: nothing calls it until `connect` again."""


def mark_needs_reconnect(store: Store, connection_id: int, detail: str) -> bool:
    """Stop the connection after a hard authentication failure; True only for the first failure."""
    with store.session() as session:
        row = session.get(Connection, connection_id, with_for_update=True)
        if row is None or row.status == NEEDS_RECONNECT:
            return False
        row.status, row.status_detail, row.status_since = NEEDS_RECONNECT, detail[:2000], datetime.now(UTC)
        return True


def clear_needs_reconnect(store: Store, connection_id: int) -> datetime | None:
    """Working credentials again: the time the connection stopped, or None when it was not stopped."""
    with store.session() as session:
        row = session.get(Connection, connection_id)
        if row is None or row.status != NEEDS_RECONNECT:
            return None
        since = row.status_since
        row.status = row.status_detail = row.status_since = None
        return since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since


def new_webhook_secret() -> str:
    return pysecrets.token_urlsafe(32)


def crm_signing_secret(adapter_cls: type[CRMAdapter], credentials: Mapping[str, Any]) -> str | None:
    """The secret the CRM signs webhooks with when it is one of the credentials (HubSpot: the app's
    client secret); None when the connector chooses the secret and the admin configures the CRM."""
    name = adapter_cls.webhook_secret_credential
    return credentials.get(name) or None if name else None


def create_connection(store: Store, box: SecretBox, *, platform: str, name: str, settings: Mapping[str, Any],
                      credentials: Mapping[str, Any], webhook_secrets: Sequence[str] | None = None,
                      account_id: str | None = None) -> int:
    get_platform(platform)  # fail early on a typo, with the list of platforms
    with store.session() as session:
        existing = session.scalar(select(Connection).where(Connection.platform == platform, Connection.name == name))
        row = existing or Connection(platform=platform, name=name)
        row.account_id = account_id
        row.settings = dict(settings)
        row.credentials = box.seal(dict(credentials))
        row.webhook_secrets = box.seal(list(webhook_secrets or [new_webhook_secret()]))
        row.active = True
        session.add(row)
        session.flush()
        return row.id


def remembered_settings(adapter_cls: type[CRMAdapter], settings: Mapping[str, Any],
                        facts: Mapping[str, Any]) -> dict[str, Any]:
    """Settings plus what check_connection() learnt that receivers rely on (explicit settings win)."""
    learnt = {key: facts[key] for key in adapter_cls.remembered_facts if facts.get(key) not in (None, "")}
    return {**learnt, **settings}


def with_webhook_registration(adapter_cls: type[CRMAdapter], url: str, secret: str, settings: Mapping[str, Any],
                              credentials: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings and credentials plus the webhook URL and secret, for CRMs whose `install` registers the webhook
    itself (Dynamics); explicit values win. Both `connect` and the demo store them, so the plan is the same."""
    settings, credentials = dict(settings), dict(credentials)
    if adapter_cls.webhook_registration:
        url_key, secret_key = adapter_cls.webhook_registration
        settings.setdefault(url_key, url)
        credentials.setdefault(secret_key, secret)
    return settings, credentials


def update_settings(store: Store, connection_id: int, changes: Mapping[str, Any]) -> None:
    """Merge ``changes`` into a connection's (non-secret) settings."""
    with store.session() as session:
        row = session.get(Connection, connection_id)
        if row is not None:
            row.settings = {**(row.settings or {}), **changes}


def get_connection(store: Store, connection_id: int) -> Connection:
    with store.session() as session:
        row = session.get(Connection, connection_id)
        if row is None:
            raise ConnectionNotFound(f"No connection with id {connection_id}; `cem-connector status` lists them.")
        return row


def list_connections(store: Store, platform: str | None = None) -> list[Connection]:
    with store.session() as session:
        query = select(Connection).order_by(Connection.id)
        if platform:
            query = query.where(Connection.platform == platform)
        return list(session.scalars(query))


def connection_info(store: Store, box: SecretBox, row: Connection, *, production: bool = False,
                    fields: Sequence[FieldSpec] = CEM_FIELDS) -> ConnectionInfo:
    """What an adapter needs about one connection; ``fields``: the CEM fields as the engine config shapes them."""
    def persist(new_credentials: dict[str, Any]) -> None:
        with store.session() as session:
            fresh = session.get(Connection, row.id)
            if fresh is not None:
                fresh.credentials = box.seal(new_credentials)

    return ConnectionInfo(id=row.id, platform=row.platform, settings=dict(row.settings),
                          credentials=box.open(row.credentials), on_credentials_changed=persist,
                          production=production, fields=fields)


def webhook_secrets(box: SecretBox, row: Connection) -> list[str]:
    return list(box.open(row.webhook_secrets))


def rotate_webhook_secret(store: Store, box: SecretBox, connection_id: int, new_secret: str | None = None,
                          keep_previous: bool = True) -> str:
    """Add a new secret in front; the previous one stays accepted until rotated again."""
    secret = new_secret or new_webhook_secret()
    with store.session() as session:
        row = session.get(Connection, connection_id)
        if row is None:
            raise ConnectionNotFound(f"No connection with id {connection_id}.")
        current = box.open(row.webhook_secrets)
        row.webhook_secrets = box.seal([secret, *current[:1]] if keep_previous else [secret])
    return secret


def webhook_targets(store: Store, box: SecretBox, platform: str, connection_id: int | None) -> list[WebhookTarget]:
    rows = [get_connection(store, connection_id)] if connection_id is not None else list_connections(store, platform)
    return [
        WebhookTarget(connection_id=row.id, account_id=row.account_id, secrets=webhook_secrets(box, row),
                      settings=dict(row.settings))
        for row in rows if row.platform == platform and row.active
    ]
