"""Journey stage timeline from CRM facts: lifecycle stage, deals, closed-won and renewal dates.

This is the *base* timeline that CRM data alone implies (awareness -> consideration -> purchase ->
onboarding -> adoption -> renewal, churned). The dynamic stages that depend on what the customer says
and does (at_risk, advocacy) are laid over it at snapshot time by ``cem_engine.engine``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from .config import EngineConfig
from .model import ContactFacts, Deal

CUSTOMER_STAGES = frozenset({"onboarding", "adoption", "renewal"})
PROSPECT_STAGES = frozenset({"awareness", "consideration", "purchase"})
_FAR_PAST = -1e18  # sort key for facts without a date


@dataclass(frozen=True)
class StageEvent:
    at: float | None  # epoch seconds; None when the CRM gives no date
    stage: str
    because: str


def to_datetime(value: date | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(0, 0), tzinfo=UTC)


def _ts(value: date | datetime | None) -> float | None:
    dt = to_datetime(value)
    return dt.timestamp() if dt else None


def _label(deal: Deal) -> str:
    return f"'{deal.name}'" if deal.name else deal.id


@dataclass(frozen=True)
class Timeline:
    events: tuple[StageEvent, ...]
    keys: tuple[float, ...]          # sort keys of events, for bisect
    lifecycle: str | None            # the lifecycle stage mapped through config (may be "customer")
    customer_since: float | None     # first closed-won purchase
    last_purchase: float | None      # latest closed-won purchase (a win-back after a cancellation)
    onboarding_end: float | None
    renewal_at: float | None         # contact renewal date
    open_renewal: Deal | None
    upsell_offers: tuple[tuple[float, str, str], ...]  # (created, deal id, name) of upsell deals

    def stage_at(self, ts: float) -> str:
        """The base stage in force at ``ts``."""
        i = bisect.bisect_right(self.keys, ts)
        if i:
            return self.events[i - 1].stage
        return _pre_event_stage(self.lifecycle)

    def current(self, ts: float) -> StageEvent | None:
        i = bisect.bisect_right(self.keys, ts)
        return self.events[i - 1] if i else None

    def history(self, ts: float) -> list[StageEvent]:
        i = bisect.bisect_right(self.keys, ts)
        out: list[StageEvent] = []
        for event in self.events[:i]:
            if out and out[-1].stage == event.stage:
                continue
            out.append(event)
        return out

    def in_onboarding(self, ts: float) -> bool:
        return self.customer_since is not None and self.onboarding_end is not None \
            and self.customer_since <= ts < self.onboarding_end


def _pre_event_stage(lifecycle: str | None) -> str:
    if lifecycle in ("customer", "advocacy"):
        return "adoption"
    return lifecycle or "awareness"


def build_timeline(contact: ContactFacts, deals: Sequence[Deal], config: EngineConfig) -> Timeline:
    rules = config.stages
    lifecycle = rules.lifecycle.get((contact.lifecycle_stage or "").strip().lower()) if contact.lifecycle_stage \
        else None
    created = _ts(contact.created_at)
    ordered = sorted(deals, key=lambda d: (_ts(d.created) or _FAR_PAST, d.id))
    purchases = sorted(
        (d for d in ordered if d.stage == "closedwon" and d.type != "renewal" and d.close_date is not None),
        key=lambda d: (_ts(d.close_date), d.id),
    )
    customer_since = _ts(purchases[0].close_date) if purchases else None
    events: list[tuple[float, int, StageEvent]] = []

    def add(at: float | None, rank: int, stage: str, because: str) -> None:
        events.append((at if at is not None else _FAR_PAST, rank, StageEvent(at, stage, because)))

    # Before the purchase: where marketing and sales say the person is. A contact record created after its
    # deals (a migrated or late-entered record) says nothing about the time before them.
    first_stage = lifecycle if lifecycle in PROSPECT_STAGES else "awareness"
    first_deal = min((t for t in (_ts(d.created) for d in ordered) if t is not None), default=None)
    if created is not None and (customer_since is None or created < customer_since) \
            and (first_deal is None or created <= first_deal):
        because = f"lifecycle stage '{contact.lifecycle_stage}'" if lifecycle in PROSPECT_STAGES else "contact created"
        add(created, 0, first_stage, because)
    for deal in ordered:
        if deal.type in ("upsell", "renewal"):
            continue
        opened = _ts(deal.created)
        if customer_since is not None and (opened is None or opened >= customer_since):
            continue  # a second purchase does not make a customer a prospect again
        add(opened, 1, "consideration", f"deal {_label(deal)} created")
        if rules.deal_stage.get(deal.stage) == "purchase":
            add(opened, 2, "purchase", f"deal {_label(deal)} at stage {deal.stage}")
    # After the purchase: onboarding, adoption, renewals.
    onboarding_end = None
    if customer_since is not None:
        first = purchases[0]
        # DESIGN.md §3: the first deal closed won within the last N days is still the purchase moment
        if rules.purchase_days > 0:
            add(customer_since, 3, "purchase", f"deal {_label(first)} closed-won")
        add(customer_since + rules.purchase_days * 86400.0, 3, "onboarding",
            f"deal {_label(first)} closed-won" if not rules.purchase_days
            else f"{rules.purchase_days} days after deal {_label(first)} closed-won")
        onboarding_end = customer_since + rules.onboarding_days * 86400.0
        add(onboarding_end, 4, "adoption", f"{rules.onboarding_days}-day onboarding window ended")
    elif lifecycle in ("customer", "advocacy"):
        add(created, 3, "adoption", f"lifecycle stage '{contact.lifecycle_stage}'")
    renewal_at = _ts(contact.renewal_date)
    is_customer = customer_since is not None or lifecycle in ("customer", "advocacy", "churned")
    if renewal_at is not None and is_customer:
        due = contact.renewal_date.isoformat() if contact.renewal_date else ""
        add(renewal_at - rules.renewal_window_days * 86400.0, 5, "renewal", f"renewal due on {due}")
        add(renewal_at + rules.renewal_grace_days * 86400.0, 6, "adoption", f"renewal date {due} passed")
    open_renewal = None
    for deal in ordered:
        if deal.type != "renewal":
            continue
        if deal.stage == "closedwon":
            add(_ts(deal.close_date) or _ts(deal.created), 7, "adoption", f"renewal deal {_label(deal)} won")
        elif deal.stage == "closedlost":
            add(_ts(deal.close_date) or _ts(deal.created), 8, "churned", f"renewal deal {_label(deal)} closed-lost")
        else:
            open_renewal = deal
            add(_ts(deal.created), 5, "renewal", f"renewal deal {_label(deal)} open ({deal.stage})")
    events.sort(key=lambda e: (e[0], e[1]))
    # Once churned, only a new purchase (a win-back) moves the contact on.
    kept: list[tuple[float, int, StageEvent]] = []
    churned = False
    for key, rank, event in events:
        if churned and event.stage != "churned" and rank != 3:
            continue
        churned = event.stage == "churned" or (churned and rank != 3)
        kept.append((key, rank, event))
    upsells = tuple(sorted(
        (_ts(d.created) or 0.0, d.id, d.name) for d in deals if d.type == "upsell" and d.created is not None
    ))
    return Timeline(
        events=tuple(e for _, _, e in kept), keys=tuple(k for k, _, _ in kept), lifecycle=lifecycle,
        customer_since=customer_since, last_purchase=_ts(purchases[-1].close_date) if purchases else None,
        onboarding_end=onboarding_end, renewal_at=renewal_at,
        open_renewal=open_renewal, upsell_offers=upsells,
    )


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


def iso_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def days(seconds: float) -> float:
    return seconds / 86400.0

