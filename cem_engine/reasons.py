"""Churn reason from evidence: what the customer said, combined with when it happened in the journey.

Every candidate reason is backed by concrete items (a quoted sentence, or an observed pattern such as a
burst of tickets or a silence) from the customer's own interactions; the reason with the most weight
wins, and ``none`` is returned when nothing reaches the configured minimum. Nothing is ever inferred
from rep-authored text (the rep's upsell emails only set the *time* of an offer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .decay import decay_factor
from .model import CLOSED_TICKET_STATUSES
from .risk import DAY, Silence
from .stages import iso_date
from .state import ContactState
from .text import short_quote

# the confusion cues are matched on the stored quote: only sentences that say they are confused count
_CONFUSED = re.compile(r"\b(confus\w*|unclear|makes no sense|don't understand|can't figure out|cannot figure out"
                       r"|not sure how|how do i|stuck|lost)\b")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg)\s*:\s*)+", re.IGNORECASE)

LABELS = {
    "onboarding_confusion": "Onboarding confusion", "poorly_timed_upsell": "Poorly timed upsell",
    "support_friction": "Support friction", "product_defect": "Product defect", "pricing_value": "Pricing / value",
    "missing_feature": "Missing feature", "competitor": "Competitor", "billing_issue": "Billing issue",
    "disengagement": "Disengagement", "relationship": "Relationship", "none": "No churn reason",
}
_TOPIC_WHY = {
    "onboarding_confusion": "complains about setup / onboarding",
    "poorly_timed_upsell": "objects to an upsell or sales offer",
    "support_friction": "complains about support responsiveness",
    "product_defect": "reports a defect",
    "pricing_value": "questions price or value",
    "missing_feature": "asks for a missing capability",
    "competitor": "mentions a competitor or alternative",
    "billing_issue": "reports a billing problem",
    "relationship": "complains about the account relationship",
}


@dataclass(frozen=True)
class Evidence:
    reason: str
    weight: float
    ts: float
    interaction_id: str
    kind: str
    quote: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"interaction_id": self.interaction_id, "kind": self.kind, "date": iso_date(self.ts),
                "quote": self.quote, "why": self.why}


@dataclass(frozen=True)
class ReasonVerdict:
    reason: str
    evidence: list[Evidence]
    scores: dict[str, float]


def _subject_key(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject or "").strip().lower()


def _offers(state: ContactState) -> list[tuple[float, str, str]]:
    """(time, label, id) of upsell offers: upsell deals from the CRM plus rep emails with offer language."""
    offers = [(ts, f"upsell deal '{name or did}'", did) for ts, did, name in state.timeline.upsell_offers]
    offers += [(o[0], f"offer email '{o[2]}'", o[1]) for o in state.offers]
    return sorted(offers)


def choose_reason(state: ContactState, now: float, silence: Silence | None, *, is_customer: bool) -> ReasonVerdict:
    rules = state.config.reason
    timeline = state.timeline
    offers = _offers(state)
    offer_subjects = {_subject_key(o[2]) for o in state.offers}
    items: list[Evidence] = []
    for ts, iid, kind, subject, quote, score, topics, intent in state.negatives:
        decay = decay_factor((now - ts) / DAY, rules.half_life_days)
        base = (max(0.0, -score) + rules.sentence_floor + (0.3 if intent else 0.0)) * decay
        short = short_quote(quote, rules.quote_chars)
        near = [o for o in offers if 0 <= ts - o[0] <= rules.upsell_window_days * DAY]
        replies_to_offer = _subject_key(subject) in offer_subjects and bool(_subject_key(subject))
        for topic in topics:
            weight, why = base, f"the customer {_TOPIC_WHY[topic]}"
            if topic == "onboarding_confusion":
                if timeline.in_onboarding(ts):
                    days_in = (ts - (timeline.customer_since or ts)) / DAY
                    weight *= rules.onboarding_boost
                    why = f"setup / onboarding complaint {days_in:.0f} days after purchase, in the onboarding window"
                else:
                    weight *= rules.outside_onboarding_factor
            elif topic == "poorly_timed_upsell" and not near:
                weight *= 0.5
            elif topic == "competitor" and intent:
                why += f" and says \"{intent}\""
            items.append(Evidence(topic, weight, ts, iid, kind, short, why))
        if near and ("poorly_timed_upsell" in topics or replies_to_offer or not topics):
            offer = near[-1]
            gap = (ts - offer[0]) / DAY
            items = [e for e in items if not (e.reason == "poorly_timed_upsell" and e.ts == ts and e.quote == short)]
            items.append(Evidence("poorly_timed_upsell", base * rules.upsell_boost, ts, iid, kind, short,
                                  f"negative reply {gap:.0f} days after {offer[1]} of {iso_date(offer[0])}"))
        elif not topics and not intent and timeline.in_onboarding(ts) and _CONFUSED.search(quote.lower()):
            # confusion in the first weeks after purchase is onboarding confusion, whatever the feature
            days_in = (ts - (timeline.customer_since or ts)) / DAY
            items.append(Evidence("onboarding_confusion", base * rules.onboarding_boost * 0.5, ts, iid, kind, short,
                                  f"confused {days_in:.0f} days after purchase, in the onboarding window"))
        elif not topics and not intent:
            after = [t for t in state.tickets if 0 <= ts - t[0] <= rules.after_case_days * DAY and t[1] != iid]
            if after:
                ticket = max(after)
                items.append(Evidence("support_friction", base * 0.5, ts, iid, kind, short,
                                      f"negative message {(ts - ticket[0]) / DAY:.0f} days after ticket "
                                      f"'{ticket[2]}' ({iso_date(ticket[0])})"))
    for ticket in state.tickets:
        if ticket[3] == "escalated" and now - ticket[0] <= rules.ticket_burst_days * DAY:
            items.append(Evidence("support_friction", 0.4 * decay_factor((now - ticket[0]) / DAY, rules.half_life_days),
                                  ticket[0], ticket[1], "ticket", short_quote(ticket[2], rules.quote_chars),
                                  "the customer's ticket was escalated"))
    recent_tickets = [t for t in state.tickets if 0 <= now - t[0] <= rules.ticket_burst_days * DAY]
    if len(recent_tickets) >= rules.ticket_burst_count:
        latest = recent_tickets[0]
        still_open = sum(1 for t in recent_tickets if t[3] not in CLOSED_TICKET_STATUSES)
        items.append(Evidence("support_friction", rules.ticket_burst_score, latest[0], latest[1], "ticket",
                              short_quote(latest[2], rules.quote_chars),
                              f"{len(recent_tickets)} tickets in {rules.ticket_burst_days} days, "
                              f"{still_open} still open"))
    if is_customer and silence is not None and silence.silent:
        last = silence.last
        strength = min(2.0, silence.days / silence.threshold_days)
        items.append(Evidence("disengagement", rules.disengagement_score * strength, last[0], last[1], last[2],
                              short_quote(last[3], rules.quote_chars),
                              f"last customer activity; silent for {silence.days:.0f} days after a steady cadence "
                              f"of one touchpoint every ~{silence.usual_gap_days:.0f} days"))
    scores: dict[str, float] = {}
    for item in items:
        scores[item.reason] = scores.get(item.reason, 0.0) + item.weight
    order = list(LABELS)
    ranked = sorted(scores.items(), key=lambda kv: (-round(kv[1], 9), order.index(kv[0])))
    if not ranked or ranked[0][1] < rules.min_score:
        return ReasonVerdict("none", [], {k: round(v, 3) for k, v in ranked})
    reason = ranked[0][0]
    chosen: list[Evidence] = []
    seen: set[tuple[str, str]] = set()
    for item in sorted((i for i in items if i.reason == reason), key=lambda i: (-i.weight, -i.ts, i.interaction_id,
                                                                                i.quote)):
        if (item.interaction_id, item.quote) in seen:
            continue
        seen.add((item.interaction_id, item.quote))
        chosen.append(item)
        if len(chosen) >= rules.max_evidence:
            break
    return ReasonVerdict(reason, chosen, {k: round(v, 3) for k, v in ranked})


def describe(verdict: ReasonVerdict) -> str:
    """The Churn Reason Detail text: short quotes, interaction kind and date, and why."""
    if verdict.reason == "none":
        return "No churn reason: nothing in the customer's own messages or activity supports one."
    parts = [f"{LABELS[verdict.reason]}."]
    for e in verdict.evidence:
        parts.append(f"{e.kind.capitalize()} {iso_date(e.ts)}: \"{e.quote}\" ({e.why}).")
    return " ".join(parts)
