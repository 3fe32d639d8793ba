"""The normalised change notice every receiver makes, and the kinds of change it names.

Receivers turn a platform's payload into ``ChangeEvent``s; the queue stores them (``to_dict``) and
the jobs read them back (``from_dict``). ``kind`` is one of the constants below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CONTACT_CREATED = "contact.created"
CONTACT_CHANGED = "contact.changed"
CONTACT_DELETED = "contact.deleted"
INTERACTION_CHANGED = "interaction.changed"
INTERACTION_DELETED = "interaction.deleted"
ASSOCIATION_CHANGED = "association.changed"
KINDS = (CONTACT_CREATED, CONTACT_CHANGED, CONTACT_DELETED, INTERACTION_CHANGED, INTERACTION_DELETED,
         ASSOCIATION_CHANGED)


@dataclass(frozen=True)
class ChangeEvent:
    """A normalised "something changed" notice from a webhook.

    ``raw`` keeps the platform payload (as django-anymail does) for debugging;
    it never leaves the process in logs.
    """

    platform: str
    event_id: str  # unique per delivery of this change; duplicates share it
    kind: str  # one of KINDS
    object_type: str  # platform-neutral: contact, email, call, note, meeting, ticket, chat, survey, deal
    object_id: str
    occurred_at: datetime  # source timestamp, timezone-aware
    account_id: str | None = None  # portal id / organization id: routes to a connection
    contact_ids: tuple[str, ...] = ()  # contacts known to be affected, when the payload says so
    actor: str | None = None  # who made the change (app id, user id) for loop prevention
    own_write: bool = False  # set by the receiver when the change is the connector's own
    # Only the contact record's own fields changed (a property edit): its interactions and deals are as they
    # were, so a recent read of them may be reused (connector.recent_reads). False whenever unsure.
    record_only: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform, "event_id": self.event_id, "kind": self.kind,
            "object_type": self.object_type, "object_id": self.object_id,
            "occurred_at": self.occurred_at.isoformat(), "account_id": self.account_id,
            "contact_ids": list(self.contact_ids), "actor": self.actor, "own_write": self.own_write,
            "record_only": self.record_only,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeEvent:
        return cls(
            platform=data["platform"], event_id=data["event_id"], kind=data["kind"],
            object_type=data["object_type"], object_id=data["object_id"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]), account_id=data.get("account_id"),
            contact_ids=tuple(data.get("contact_ids") or ()), actor=data.get("actor"),
            own_write=bool(data.get("own_write")), record_only=bool(data.get("record_only")),
        )
