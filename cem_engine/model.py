"""The CEM data model: what goes into the engine and what comes out.

Pure data, no behaviour beyond (de)serialisation, so that adapters, the
connector and the exchange format all speak the same types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

InteractionKind = Literal["email", "call", "note", "meeting", "ticket", "chat", "survey", "form"]
Direction = Literal["inbound", "outbound", "internal"]
Author = Literal["customer", "rep", "system"]

JOURNEY_STAGES: tuple[str, ...] = (
    "awareness", "consideration", "purchase", "onboarding", "adoption",
    "renewal", "advocacy", "at_risk", "churned",
)
EMOTIONS: tuple[str, ...] = (
    "delighted", "satisfied", "neutral", "anxious", "confused",
    "frustrated", "angry", "disappointed",
)
CHURN_REASONS: tuple[str, ...] = (
    "onboarding_confusion", "poorly_timed_upsell", "support_friction", "product_defect",
    "pricing_value", "missing_feature", "competitor", "billing_issue", "disengagement",
    "relationship", "none",
)
# Deal stages use HubSpot's default pipeline names; adapters map other CRMs onto them.
DEAL_STAGES: tuple[str, ...] = (
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
    "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
)
DEAL_TYPES: tuple[str, ...] = ("new_business", "upsell", "renewal")


@dataclass(frozen=True)
class Interaction:
    """One touchpoint between the customer and the company."""

    id: str
    contact_id: str
    kind: InteractionKind
    direction: Direction
    occurred_at: datetime  # timezone-aware
    author: Author | None = None  # None -> inferred from direction
    subject: str = ""
    body: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def effective_author(self) -> Author:
        if self.author:
            return self.author
        return "customer" if self.direction == "inbound" else "rep" if self.direction == "outbound" else "system"


@dataclass(frozen=True)
class Deal:
    """An opportunity / deal linked to the contact."""

    id: str
    contact_id: str
    stage: str  # one of DEAL_STAGES
    type: str = "new_business"  # one of DEAL_TYPES
    name: str = ""
    amount: float | None = None
    created: date | datetime | None = None
    close_date: date | datetime | None = None
    lost_reason: str = ""  # why a closed-lost deal was lost, as the CRM records it (a system record)


@dataclass(frozen=True)
class ContactFacts:
    """What the CRM knows about the person, apart from interactions."""

    contact_id: str
    lifecycle_stage: str | None = None  # HubSpot lifecycle names (lead, customer, ...)
    renewal_date: date | None = None
    created_at: datetime | None = None
    email: str | None = None
    name: str | None = None
    company: str | None = None  # the account's display name, as the CRM shows it
    owner: str | None = None  # the record owner's display name (the rep), as the CRM shows it


@dataclass(frozen=True)
class ContactInput:
    """Everything the engine needs about one contact."""

    contact: ContactFacts
    deals: tuple[Deal, ...] = ()
    interactions: tuple[Interaction, ...] = ()


# The fields written back to the CRM (DESIGN.md §3), platform-neutral keys.
CEM_FIELD_KEYS: tuple[str, ...] = (
    "journey_stage", "journey_stage_since", "emotion_score", "emotion", "emotion_trend",
    "churn_risk", "churn_reason", "churn_reason_detail", "updated_at",
)


@dataclass
class Profile:
    """The engine's verdict on one contact, with its explanation."""

    contact_id: str
    journey_stage: str
    journey_stage_since: datetime | None
    emotion_score: float  # -100..100
    emotion: str
    emotion_trend: float
    churn_risk: int  # 0..100
    churn_reason: str
    churn_reason_detail: str
    explanation: dict[str, Any] = field(default_factory=dict)

    def fields(self, updated_at: datetime) -> dict[str, Any]:
        """The CEM field values keyed by CEM_FIELD_KEYS."""
        return {
            "journey_stage": self.journey_stage,
            "journey_stage_since": self.journey_stage_since,
            "emotion_score": round(self.emotion_score, 1),
            "emotion": self.emotion,
            "emotion_trend": round(self.emotion_trend, 1),
            "churn_risk": int(self.churn_risk),
            "churn_reason": self.churn_reason,
            "churn_reason_detail": self.churn_reason_detail,
            "updated_at": updated_at,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        since = data["journey_stage_since"]
        data["journey_stage_since"] = since.isoformat() if since else None
        return data
