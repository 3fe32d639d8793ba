"""Churn risk 0..100 as a sum of named, explainable signals."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import schema
from .emotion import EmotionReading
from .stages import iso_date
from .state import ContactState

if TYPE_CHECKING:
    from .reasons import ReasonVerdict

DAY = 86400.0
URGENT = frozenset({"high", "urgent", "critical", "escalated", "p1", "1"})


@dataclass(frozen=True)
class Silence:
    """How long the customer has been quiet compared with their own usual cadence."""

    days: float
    usual_gap_days: float
    threshold_days: float
    last: list  # the most recent activity entry [ts, iid, kind, quote]

    @property
    def silent(self) -> bool:
        return self.days > self.threshold_days


def read_silence(state: ContactState, now: float) -> Silence | None:
    """None when there is no steady activity to compare against."""
    rules = state.config.silence
    if state.activity_count < rules.min_activities or len(state.activity) < 2:
        return None
    times = sorted(e[0] for e in state.activity)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    usual = max(sum(gaps) / len(gaps) / DAY, 1.0)
    threshold = max(rules.min_days, rules.factor * usual)
    return Silence(days=(now - times[-1]) / DAY, usual_gap_days=usual, threshold_days=threshold,
                   last=state.activity[0])


@dataclass(frozen=True)
class Signal:
    signal: str
    points: int
    detail: str
    since: float  # when this signal started to apply (for the at_risk stage's entry date)

    def as_dict(self) -> dict[str, object]:
        return {"signal": self.signal, "points": self.points, "detail": self.detail}


def risk_signals(state: ContactState, now: float, emotion: EmotionReading, silence: Silence | None,
                 *, is_customer: bool, churned: float | None) -> list[Signal]:
    rules = state.config.risk
    signals: list[Signal] = []
    # Every `since` is anchored to data (an interaction, a renewal date), never to `now`: the at_risk
    # entry date must not move when the same history is analysed a second later.
    anchor = state.latest if state.latest is not None else now
    if churned is not None:
        return [Signal("churned", 100, "the CRM records this customer as lost", churned)]
    if emotion.score < 0:
        points = min(rules.emotion_max, round(-emotion.score * rules.emotion_per_point))
        if points:
            recent = [e[0] for e in state.negatives if now - e[0] <= 90 * DAY]
            signals.append(Signal("negative_emotion", points,
                                  f"emotion score {emotion.score:.0f} ({emotion.label})", min(recent, default=anchor)))
    if emotion.trend < rules.trend_threshold:
        points = min(rules.trend_max, round(-emotion.trend * rules.trend_per_point))
        if points:
            window = state.config.emotion.trend_days * DAY
            falling_since = min((e[0] for e in state.negatives if now - e[0] <= window), default=anchor)
            signals.append(Signal("falling_emotion", points,
                                  f"emotion fell {-emotion.trend:.0f} points in the last "
                                  f"{state.config.emotion.trend_days} days", falling_since))
    open_cases = [t for t in state.tickets
                  if t[3] not in schema.CLOSED_STATUSES
                  and now - t[0] <= rules.case_window_days * DAY]
    if open_cases:
        urgent = sum(1 for t in open_cases if len(t) > 4 and t[4] in URGENT)
        points = min(rules.open_case_max, rules.open_case_points * len(open_cases) + rules.urgent_case_points * urgent)
        names = "; ".join(f"'{t[2]}' since {iso_date(t[0])}" for t in sorted(open_cases)[:3])
        signals.append(Signal("unresolved_cases", points,
                              f"{len(open_cases)} open ticket(s), {urgent} urgent: {names}",
                              min(t[0] for t in open_cases)))
    intents = [i for i in state.intents if now - i[0] <= rules.intent_window_days * DAY]
    if intents:
        latest = intents[0]
        signals.append(Signal("intent_to_leave", rules.intent_points,
                              f"{latest[2]} on {iso_date(latest[0])} says \"{latest[3]}\": \"{latest[4][:120]}\"",
                              min(i[0] for i in intents)))
    if is_customer and silence is not None and silence.silent:
        over = silence.days / silence.threshold_days - 1.0
        points = min(rules.silence_max, rules.silence_points + round(over * 10))
        signals.append(Signal("gone_silent", points,
                              f"no customer activity for {silence.days:.0f} days; "
                              f"usual gap {silence.usual_gap_days:.0f} days",
                              silence.last[0] + silence.threshold_days * DAY))
    renewal = _renewal_days(state, now)
    if is_customer and renewal is not None:
        band = state.config.emotion.neutral_band
        points = rules.renewal_points_unhappy if emotion.score <= -band else \
            rules.renewal_points_neutral if emotion.score < state.config.emotion.satisfied_at else 0
        if points:
            when = f"in {renewal:.0f} days" if renewal >= 0 else "now (renewal deal open)"
            timeline = state.timeline
            entered = (timeline.renewal_at - rules.renewal_window_days * DAY if timeline.renewal_at is not None
                       and renewal >= 0 else anchor)
            signals.append(Signal("renewal_soon", points, f"renewal {when} while the customer is not satisfied",
                                  entered))
    return signals


def _renewal_days(state: ContactState, now: float) -> float | None:
    timeline = state.timeline
    window = state.config.risk.renewal_window_days
    if timeline.renewal_at is not None and 0 <= timeline.renewal_at - now <= window * DAY:
        return (timeline.renewal_at - now) / DAY
    if timeline.open_renewal is not None:
        return -1.0
    return None


def total(signals: list[Signal]) -> int:
    return max(0, min(100, sum(s.points for s in signals)))


HIGH_AT, MEDIUM_AT = 67, 34  # the bands reps read (DESIGN.md §3)


def banded(signals: list[Signal], verdict: ReasonVerdict, *, is_customer: bool) -> list[Signal]:
    """Signals adjusted so the total lands in the band DESIGN.md §3 defines.

    High (67+) means a stated intent to leave, or churned: without one, the total stops at 66. Unresolved pain
    (a churn reason backed by evidence) is at least medium (34).
    """
    if any(s.signal in ("churned", "intent_to_leave") for s in signals):
        return signals
    out = list(signals)
    points = total(out)
    if points >= HIGH_AT:
        out.append(Signal("no_stated_intent", HIGH_AT - 1 - points,
                          "high risk needs a stated intent to leave; capped at medium", min(s.since for s in out)))
    elif is_customer and verdict.reason != "none" and verdict.evidence and points < MEDIUM_AT:
        first = min(e.ts for e in verdict.evidence)
        out.append(Signal("churn_reason", MEDIUM_AT - points,
                          f"unresolved {verdict.reason.replace('_', ' ')} with evidence", first))
    return out
