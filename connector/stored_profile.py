"""What of an analysis the connector keeps: the CEM fields and an explanation whose customer words are
cut to the length the CRM field shows.

The engine's ``Profile.explanation`` quotes the customer (emotion cues, pain points, reason evidence,
the intent-to-leave signal, an advocate's review); the journey map (``journey_display``) keeps a short
excerpt per interaction. The rule for every stored customer passage: never a message body, at most
``reason.quote_chars`` characters (what one quote in the CRM's Churn Reason Detail field holds, so
nothing stored says more than the record shows per quote). ``reason_evidence`` are the very quotes of
Churn Reason Detail. ``forget`` deletes the row like every other personal-data table.
"""

from __future__ import annotations

import re
from typing import Any

from cem_engine.text import short_quote

_DOUBLE_QUOTED = re.compile(r'"([^"]*)"')


def storable_profile(profile: dict[str, Any], quote_chars: int) -> dict[str, Any]:
    """``Profile.to_dict()`` (JSON form) with every customer passage cut to ``quote_chars``."""
    explanation = dict(profile.get("explanation") or {})
    emotion = dict(explanation.get("emotion") or {})
    emotion["cues"] = [_cut(c, "quote", quote_chars) for c in emotion.get("cues") or []]
    explanation["emotion"] = emotion
    explanation["reason_evidence"] = [_cut(e, "quote", quote_chars) for e in explanation.get("reason_evidence") or []]
    explanation["risk_signals"] = [_cut_text(s, "detail", quote_chars) for s in explanation.get("risk_signals") or []]
    explanation["stage_history"] = [_cut_text(h, "because", quote_chars)
                                    for h in explanation.get("stage_history") or []]
    explanation["stage_emotions"] = {
        stage: {**agg, "pain_points": [_cut(p, "quote", quote_chars) for p in agg.get("pain_points") or []]}
        for stage, agg in (explanation.get("stage_emotions") or {}).items()}
    return {**profile, "explanation": explanation}


def _cut(item: Any, key: str, limit: int) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get(key), str):
        return item
    return {**item, key: short_quote(item[key], limit)}


def _cut_text(item: Any, key: str, limit: int) -> Any:
    """Quoted passages inside a sentence ("... says \"...\"") cut to ``limit``."""
    if not isinstance(item, dict) or not isinstance(item.get(key), str):
        return item
    return {**item, key: _DOUBLE_QUOTED.sub(lambda m: f'"{short_quote(m.group(1), limit)}"', item[key])}
