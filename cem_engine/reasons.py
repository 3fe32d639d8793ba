"""Churn reason from evidence: what the customer said, combined with when it happened in the journey.

Every candidate reason is backed by concrete items (a quoted sentence, or an observed pattern such as a
burst of tickets or a silence) from the customer's own interactions; the reason with the most weight
wins, and ``none`` is returned when nothing reaches the configured minimum. Nothing is ever inferred
from rep-authored text (the rep's upsell emails only set the *time* of an offer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import schema
from .decay import decay_factor
from .risk import DAY, Silence
from .sentiment import NEGATIVE_AT
from .stages import iso_date
from .state import ContactState
from .text import short_quote

# the confusion cues are matched on the stored quote: only sentences that say they are confused count
_CONFUSED = re.compile(r"\b(confus\w*|unclear|makes no sense|don't understand|can't figure out|cannot figure out"
                       r"|not sure how|how do i|stuck|lost)\b")
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|wg)\s*:\s*)+", re.IGNORECASE)

_PROSPECT_FACTOR = 0.75  # a prospect's objection counts, a little less than a customer's complaint
_RIVAL_WEIGHT = 1.5  # a rival named by the customer is strong news even when said calmly
_PRAISED_LATER = 0.4  # a complaint whose topic the customer later praised has mostly been put right
_SOURCE_NOTE = {"customer": "", "rep note": "rep note: ", "system": "system record: "}


@dataclass(frozen=True)
class Evidence:
    reason: str
    weight: float
    ts: float
    interaction_id: str
    kind: str
    quote: str
    why: str
    source: str = "customer"  # customer, rep note, system, absence

    def as_dict(self) -> dict[str, str]:
        return {"interaction_id": self.interaction_id, "kind": self.kind, "date": iso_date(self.ts),
                "quote": self.quote, "why": self.why, "source": self.source}


@dataclass(frozen=True)
class ReasonVerdict:
    reason: str
    evidence: list[Evidence]
    scores: dict[str, float]
    label: str = ""


def _subject_key(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject or "").strip().lower()


def _offers(state: ContactState) -> list[tuple[float, str, str]]:
    """(time, label, id) of upsell offers: upsell deals from the CRM plus rep emails with offer language."""
    offers = [(ts, f"upsell deal '{name or did}'", did) for ts, did, name in state.timeline.upsell_offers]
    offers += [(o[0], f"offer email '{o[2]}'", o[1]) for o in state.offers]
    return sorted(offers)


def _why(reason: str, state: ContactState, source: str) -> str:
    description = state.config.taxonomy.reasons[reason].description if reason in state.config.taxonomy.reasons \
        else reason
    who = "the rep logged that the customer said so" if source == "rep note" else \
        "a system record says so" if source == "system" else "the customer says so"
    return f"{description[:1].lower()}{description[1:].rstrip('.')} ({who})"


def choose_reason(state: ContactState, now: float, silence: Silence | None, *, is_customer: bool) -> ReasonVerdict:
    rules = state.config.reason
    taxonomy = state.config.taxonomy
    timeline = state.timeline
    offers = _offers(state)
    offer_subjects = {_subject_key(o[2]) for o in state.offers}
    items: list[Evidence] = []
    source_weight = {"customer": 1.0, "rep note": rules.rep_note_weight, "system": rules.system_weight}
    for ts, iid, kind, subject, quote, score, topics, intent, source, margin, cue in state.negatives:
        decay = decay_factor((now - ts) / DAY, rules.half_life_days)
        confidence = 1.0 if margin >= rules.min_margin + 0.05 or not margin else 0.8
        if not is_customer:
            confidence *= _PROSPECT_FACTOR
        base = (max(0.0, -score) + rules.sentence_floor + (0.3 if intent else 0.0)) * decay \
            * source_weight.get(source, 1.0) * confidence
        short = short_quote(quote, rules.quote_chars)
        near = [o for o in offers if 0 <= ts - o[0] <= rules.upsell_window_days * DAY]
        replies_to_offer = _subject_key(subject) in offer_subjects and bool(_subject_key(subject))
        for topic in topics:
            if topic not in taxonomy.reasons:
                continue
            weight, why = base, _why(topic, state, source)
            if any(p[2] == topic and p[0] > ts for p in state.praise):
                weight *= _PRAISED_LATER
            if topic == "onboarding_confusion":
                if timeline.in_onboarding(ts):
                    days_in = (ts - (timeline.customer_since or ts)) / DAY
                    weight *= rules.onboarding_boost
                    why = f"setup / onboarding complaint {days_in:.0f} days after purchase, in the onboarding window"
                elif timeline.customer_since is not None:  # known to be long after purchase: a setup gripe, less
                    weight *= rules.outside_onboarding_factor
            elif topic == "poorly_timed_upsell" and not near and not cue:
                weight *= 0.5  # no offer on record and no words about one: weak
            elif topic == "competitor":
                if not is_customer and not cue:
                    continue  # every prospect compares options; only a named or described rival is news
                weight *= _RIVAL_WEIGHT
                if intent:
                    why += f" and says \"{intent}\""
            items.append(Evidence(topic, weight, ts, iid, kind, short, why, source))
        if source != "customer" or score > NEGATIVE_AT:
            continue  # the timing rules below read the customer's own negative words
        if "poorly_timed_upsell" in taxonomy.reasons and near and (
                "poorly_timed_upsell" in topics or replies_to_offer or not topics):
            offer = near[-1]
            gap = (ts - offer[0]) / DAY
            items = [e for e in items if not (e.reason == "poorly_timed_upsell" and e.ts == ts and e.quote == short)]
            items.append(Evidence("poorly_timed_upsell", base * rules.upsell_boost, ts, iid, kind, short,
                                  f"negative reply {gap:.0f} days after {offer[1]} of {iso_date(offer[0])}"))
        elif "onboarding_confusion" in taxonomy.reasons and not topics and not intent \
                and timeline.in_onboarding(ts) and _CONFUSED.search(quote.lower()):
            # confusion in the first weeks after purchase is onboarding confusion, whatever the feature
            days_in = (ts - (timeline.customer_since or ts)) / DAY
            items.append(Evidence("onboarding_confusion", base * rules.onboarding_boost * 0.5, ts, iid, kind, short,
                                  f"confused {days_in:.0f} days after purchase, in the onboarding window"))
        elif "support_friction" in taxonomy.reasons and not topics and not intent:
            after = [t for t in state.tickets if 0 <= ts - t[0] <= rules.after_case_days * DAY and t[1] != iid]
            if after:
                ticket = max(after)
                items.append(Evidence("support_friction", base * 0.5, ts, iid, kind, short,
                                      f"negative message {(ts - ticket[0]) / DAY:.0f} days after ticket "
                                      f"'{ticket[2]}' ({iso_date(ticket[0])})"))
    for ts, did, kind, quote, reason, _margin in state.system:
        if reason in taxonomy.reasons and ts <= now:
            weight = (0.5 + rules.sentence_floor) * rules.system_weight * 2 * decay_factor((now - ts) / DAY,
                                                                                             rules.half_life_days)
            items.append(Evidence(reason, weight, ts, did, kind, short_quote(quote, rules.quote_chars),
                                  f"closed-lost reason recorded on the deal: {_why(reason, state, 'system')}",
                                  "system"))
    if "support_friction" in taxonomy.reasons:
        items += _ticket_evidence(state, now)
    if "disengagement" in taxonomy.reasons and (is_customer or state.deals):  # not a lead ignoring cold outreach
        items += _absence_evidence(state, now, silence if is_customer else None)
    return _verdict(state, items)


def _ticket_evidence(state: ContactState, now: float) -> list[Evidence]:
    rules = state.config.reason
    items = []
    for ticket in state.tickets:
        if ticket[3] == "escalated" and now - ticket[0] <= rules.ticket_burst_days * DAY:
            items.append(Evidence("support_friction", 0.4 * decay_factor((now - ticket[0]) / DAY, rules.half_life_days),
                                  ticket[0], ticket[1], "ticket", short_quote(ticket[2], rules.quote_chars),
                                  "the customer's ticket was escalated", "system"))
    recent_tickets = [t for t in state.tickets if 0 <= now - t[0] <= rules.ticket_burst_days * DAY]
    if len(recent_tickets) >= rules.ticket_burst_count:
        latest = recent_tickets[0]
        still_open = sum(1 for t in recent_tickets if t[3] not in schema.CLOSED_STATUSES)
        items.append(Evidence("support_friction", rules.ticket_burst_score, latest[0], latest[1], "ticket",
                              short_quote(latest[2], rules.quote_chars),
                              f"{len(recent_tickets)} tickets in {rules.ticket_burst_days} days, "
                              f"{still_open} still open", "system"))
    return items


def unanswered_outreach(state: ContactState, now: float) -> list[list]:
    """Outbound emails and calls since the customer's last activity that got no answer (newest first)."""
    rules = state.config.reason
    last = state.activity[0][0] if state.activity else None
    return [o for o in state.outreach if (last is None or o[0] > last) and now - o[0] >= rules.unanswered_days * DAY]


def _absence_evidence(state: ContactState, now: float, silence: Silence | None) -> list[Evidence]:
    rules = state.config.reason
    items = []
    if silence is not None and silence.silent:
        last = silence.last
        strength = min(2.0, silence.days / silence.threshold_days)
        items.append(Evidence("disengagement", rules.disengagement_score * strength, last[0], last[1], last[2],
                              short_quote(last[3], rules.quote_chars),
                              f"last customer activity; silent for {silence.days:.0f} days after a steady cadence "
                              f"of one touchpoint every ~{silence.usual_gap_days:.0f} days", "absence"))
    unanswered = unanswered_outreach(state, now)
    if len(unanswered) >= rules.unanswered_count and state.customer_messages > 0:  # went dark, not cold outreach
        newest = unanswered[0]
        kinds = sorted({o[2] for o in unanswered})
        strength = min(2.0, len(unanswered) / rules.unanswered_count)
        items.append(Evidence("disengagement", rules.disengagement_score * strength, newest[0], newest[1], newest[2],
                              short_quote(newest[3], rules.quote_chars),
                              f"{len(unanswered)} outbound {' and '.join(kinds)} touches since "
                              f"{iso_date(unanswered[-1][0])} got no answer", "absence"))
    return items


def _verdict(state: ContactState, items: list[Evidence]) -> ReasonVerdict:
    rules = state.config.reason
    taxonomy = state.config.taxonomy
    scores: dict[str, float] = {}
    for item in items:
        scores[item.reason] = scores.get(item.reason, 0.0) + item.weight
    order = list(taxonomy.names)
    ranked = sorted(scores.items(), key=lambda kv: (-round(kv[1], 9), order.index(kv[0])))
    if not ranked or ranked[0][1] < rules.min_score:
        return ReasonVerdict("none", [], {k: round(v, 3) for k, v in ranked}, taxonomy.label("none"))
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
    return ReasonVerdict(reason, chosen, {k: round(v, 3) for k, v in ranked}, taxonomy.label(reason))


def describe(verdict: ReasonVerdict) -> str:
    """The Churn Reason Detail text: short quotes, interaction kind and date, their source, and why."""
    if verdict.reason == "none":
        return "No churn reason: nothing in the customer's messages, the rep's notes or the CRM's records supports one."
    parts = [f"{verdict.label or verdict.reason}."]
    for e in verdict.evidence:
        note = _SOURCE_NOTE.get(e.source, "")
        parts.append(f"{e.kind.capitalize()} {iso_date(e.ts)}: {note}\"{e.quote}\" ({e.why}).")
    return " ".join(parts)
