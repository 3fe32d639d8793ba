"""GDPR: people forgotten with ``cem-connector forget`` stay forgotten while their CRM record exists.

The CRM keeps the record (forget only clears what the connector stored), so webhooks, reconcile
and backfill keep naming the person. The suppression list remembers who was forgotten without
keeping who they are: a keyed hash (HMAC-SHA256 with CEM_SECRET_KEY over connection and contact id),
so the table cannot be read back into ids. Intake (``process_events``) and every refresh skip those
ids; the entry goes when the CRM record itself is gone (a deletion webhook, or a refresh that no
longer finds it): then nothing can bring the person back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from sqlalchemy import delete, select

from .store import Store, SuppressedContact


def contact_key(secret_key: str, connection_id: int, contact_id: str) -> str:
    return hmac.new(secret_key.encode(), f"{connection_id}:{contact_id}".encode(), hashlib.sha256).hexdigest()


class SuppressionList:
    def __init__(self, store: Store, secret_key: str) -> None:
        self.store = store
        self.secret_key = secret_key

    def add(self, connection_id: int, contact_id: str) -> None:
        key = contact_key(self.secret_key, connection_id, contact_id)
        with self.store.session() as session:
            if session.get(SuppressedContact, (connection_id, key)) is None:
                session.add(SuppressedContact(connection_id=connection_id, contact_key=key))

    def remove(self, connection_id: int, contact_ids: Sequence[str]) -> None:
        if not contact_ids:
            return
        keys = [contact_key(self.secret_key, connection_id, c) for c in contact_ids]
        with self.store.session() as session:
            session.execute(delete(SuppressedContact).where(SuppressedContact.connection_id == connection_id,
                                                            SuppressedContact.contact_key.in_(keys)))

    def allowed(self, connection_id: int, contact_ids: Sequence[str]) -> list[str]:
        """``contact_ids`` without the forgotten ones (order kept)."""
        if not contact_ids:
            return []
        keys = {contact_key(self.secret_key, connection_id, c): c for c in contact_ids}
        with self.store.session() as session:
            hidden = set(session.scalars(select(SuppressedContact.contact_key).where(
                SuppressedContact.connection_id == connection_id, SuppressedContact.contact_key.in_(list(keys)))))
        return [c for c in contact_ids if contact_key(self.secret_key, connection_id, c) not in hidden]
