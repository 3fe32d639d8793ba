"""The engine's public entry points: ``analyze`` for a whole history, ``update`` + ``snapshot`` incrementally.

``analyze(data)`` is literally "fold every interaction into a new state, then snapshot", so the batch and
the incremental paths cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .config import EngineConfig, default_config
from .embedding import model_status
from .emotion import read_emotion
from .model import ContactInput, Profile
from .reasons import choose_reason, describe
from .risk import DAY, banded, read_silence, risk_signals, total
from .stages import CUSTOMER_STAGES, StageEvent, iso, iso_date
from .state import ContactState, new_state, update

__all__ = ["analyze", "new_state", "snapshot", "update"]


def analyze(data: ContactInput, *, now: datetime | None = None, config: EngineConfig | None = None) -> Profile:
    """The profile of one contact as of ``now`` (default: the current UTC time).

    Interactions after ``now`` are left out, so a past ``now`` replays the history up to that moment.
    """
    now = _aware(now or datetime.now(UTC))
    state = new_state(data.contact, data.deals, config or default_config())
    for interaction in data.interactions:
        if _aware(interaction.occurred_at) <= now:
            update(state, interaction)
    return snapshot(state, now)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def snapshot(state: ContactState, now: datetime) -> Profile:
    """The profile the state implies at ``now`` (never earlier than the newest interaction seen)."""
    config = state.config
    at = _aware(now).timestamp()
    if state.latest is not None:
        at = max(at, state.latest)
    day = at / DAY
    timeline = state.timeline
    emotion = read_emotion(state, day)
    silence = read_silence(state, at)
    base_event = timeline.current(at)
    base = base_event.stage if base_event else timeline.stage_at(at)
    cancelled = _cancellation(state, at)
    churned = base == "churned" or timeline.lifecycle == "churned" or cancelled is not None
    bought = timeline.customer_since is not None and timeline.customer_since <= at
    is_customer = base in CUSTOMER_STAGES or timeline.lifecycle in ("customer", "advocacy") or churned or bought
    churned_at = None
    if cancelled is not None:
        churned_at = cancelled[0]
    elif churned and base_event and base_event.stage == "churned":
        churned_at = base_event.at
    signals = risk_signals(state, at, emotion, silence, is_customer=is_customer,
                           churned=(churned_at if churned_at is not None else at) if churned else None)
    verdict = choose_reason(state, at, silence, is_customer=is_customer)
    signals = banded(signals, verdict, is_customer=is_customer)
    risk = total(signals)
    history = [_event_dict(e) for e in timeline.history(at)]
    stage, since, because = base, (base_event.at if base_event else None), (base_event.because if base_event else "")
    if cancelled is not None and base != "churned":
        stage, since, because = "churned", cancelled[0], cancelled[1]
    elif churned and base != "churned":
        stage, since, because = "churned", None, f"lifecycle stage '{state.contact.lifecycle_stage}'"
    elif not churned and is_customer:
        exit_intent = _exit_intent(state, at)
        advocacy = _advocacy_since(state, at, emotion.score, risk)
        if exit_intent is not None:
            stage, since, because = "at_risk", exit_intent[0], exit_intent[1]
        elif risk >= config.stages.at_risk_threshold:
            contributing = [s for s in signals if s.points > 0]
            stage, since = "at_risk", min(s.since for s in contributing)
            top = sorted(contributing, key=lambda s: -s.points)[:3]
            because = f"churn risk {risk} >= {config.stages.at_risk_threshold}: " + ", ".join(
                f"{s.signal} (+{s.points})" for s in top)
        elif base != "renewal" and advocacy is not None:
            stage, since, because = "advocacy", advocacy[0], advocacy[1]
        elif base not in CUSTOMER_STAGES and not (base == "purchase" and bought):
            stage = "adoption"
    elif stage == "awareness" and state.evaluating:
        # a known contact who asks about pricing, a demo or a trial is in a sales conversation (DESIGN §3, 8)
        first = min(state.evaluating)
        stage, since, because = "consideration", first[0], f"{first[2]} on {iso_date(first[0])}: \"{first[3][:100]}\""
    if not history or history[-1]["stage"] != stage:
        history.append({"stage": stage, "since": iso(since), "because": because})
    explanation: dict[str, Any] = {
        "emotion": _emotion_explanation(state, emotion),
        "risk_signals": [s.as_dict() for s in signals],
        "reason_evidence": [e.as_dict() for e in verdict.evidence],
        "reason_scores": verdict.scores,
        "reason_model": model_status(),
        "taxonomy": config.taxonomy.name,
        "stage_history": history,
        "stage_emotions": _stage_emotions(state),
        "interactions": state.interactions,
        "customer_messages": state.customer_messages,
        "as_of": iso(at),
    }
    return Profile(
        contact_id=state.contact.contact_id,
        journey_stage=stage,
        journey_stage_since=datetime.fromtimestamp(since, UTC) if since is not None else None,
        emotion_score=round(emotion.score, 1),
        emotion=emotion.label,
        emotion_trend=round(emotion.trend, 1),
        churn_risk=risk,
        churn_reason=verdict.reason,
        churn_reason_detail=describe(verdict),
        explanation=explanation,
    )


def _event_dict(event: StageEvent) -> dict[str, Any]:
    return {"stage": event.stage, "since": iso(event.at), "because": event.because}


def _advocacy_since(state: ContactState, at: float, score: float, risk: int) -> tuple[float | None, str] | None:
    rules = state.config.advocacy
    if state.timeline.lifecycle == "advocacy":  # the CRM marks them evangelist: no emotion gate
        return None, f"lifecycle stage '{state.contact.lifecycle_stage}'"
    if score < rules.min_score or risk > rules.max_risk:
        return None
    recent = [a for a in state.advocacy if 0 <= at - a[0] <= rules.window_days * DAY]
    if recent:
        first = min(recent)
        return first[0], f"{first[2]} on {iso_date(first[0])}: \"{first[3][:100]}\""
    return None


def _cancellation(state: ContactState, at: float) -> tuple[float, str] | None:
    """(when, why) of the first cancellation since the latest purchase; a later purchase is a win-back."""
    since = state.timeline.last_purchase or float("-inf")
    found = sorted(c for c in state.cancellations if since <= c[0] <= at)
    if not found:
        return None
    ts, _iid, kind, source, quote = found[0]
    what = "cancellation form" if source == "cancellation form" else \
        f"cancellation in a {kind} ({source})" if source != "customer" else f"cancellation in a {kind}"
    return ts, f"{what} on {iso_date(ts)}: \"{quote[:100]}\""


def _exit_intent(state: ContactState, at: float) -> tuple[float, str] | None:
    """(since, why) when the customer stated an intent to leave, after they became a customer."""
    rules = state.config.risk
    start = state.timeline.customer_since if state.timeline.customer_since is not None else float("-inf")
    recent = sorted(i for i in state.intents if start <= i[0] <= at and at - i[0] <= rules.intent_window_days * DAY)
    if not recent:
        return None
    ts, _iid, kind, phrase, quote, source = recent[0]
    via = " (rep note)" if source == "rep note" else ""
    return ts, f"intent to leave in a {kind}{via} on {iso_date(ts)}: \"{phrase}\" - \"{quote[:100]}\""


def _emotion_explanation(state: ContactState, emotion: Any) -> dict[str, Any]:
    survey = None
    if state.survey is not None:
        ts, iid, nps, csat = state.survey
        survey = {"interaction_id": iid, "date": iso_date(ts), "nps": nps, "csat": csat}
    return {
        "score": round(emotion.score, 1),
        "label": emotion.label,
        "trend": round(emotion.trend, 1),
        "cue_weights": {k: round(v, 3) for k, v in sorted(emotion.cue_weights.items()) if v >= 0.001},
        "cues": [
            {"emotion": emo, "cues": cues, "interaction_id": iid, "kind": kind, "date": iso_date(ts), "quote": quote}
            for ts, iid, kind, emo, cues, quote in state.cue_hits
        ],
        "latest_survey": survey,
        "half_life_days": state.config.emotion.half_life_days,
    }


def _stage_emotions(state: ContactState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage, stats in sorted(state.stage_stats.items()):
        pains = sorted(stats["pain"].items(), key=lambda kv: (-kv[1][0], kv[0]))
        out[stage] = {
            "score": round(stats["sum"] / stats["n"] / 1000.0, 1) if stats["n"] else 0.0,
            "count": stats["n"],
            "pain_points": [{"topic": topic, "mentions": n, "quote": example[2]} for topic, (n, example) in pains[:5]],
        }
    return out
