"""What of an analysis the connector keeps: the CEM fields and an explanation without customer words.

The engine's ``Profile.explanation`` quotes the customer (emotion cues, pain points, reason
evidence, the intent-to-leave signal, an advocate's review). Tables hold ids, dates, topics, cue
words and scores, never message text: the only customer words stored are the short quotes of
``churn_reason_detail``, which the connector writes to the CRM record anyway (at most
``reason.quote_chars`` characters each, ``reason.max_evidence`` of them). Quoted passages in the
explanation's texts (risk signals, stage reasons) become "…"; the journey page shows the quotes
through the Churn Reason Detail. ``forget`` deletes the row like every other personal-data table.
"""

from __future__ import annotations

import re
from typing import Any

_DOUBLE_QUOTED = re.compile(r'"([^"]*)"')
# 'Ticket subject' since 2026-10-01: single quotes around free text, not an apostrophe inside a word
_SINGLE_QUOTED = re.compile(r"(?<![\w'])'([^']*)'(?![\w])")
OMITTED = "…"


def storable_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """``Profile.to_dict()`` (JSON form) reduced to what may be stored."""
    explanation = profile.get("explanation") or {}
    emotion = explanation.get("emotion") or {}
    kept = {k: v for k, v in profile.items() if k != "explanation"}
    kept["explanation"] = {
        "as_of": explanation.get("as_of"),
        "interactions": explanation.get("interactions"),
        "customer_messages": explanation.get("customer_messages"),
        "reason_scores": explanation.get("reason_scores"),
        "emotion": {
            **{k: emotion.get(k) for k in ("score", "label", "trend", "cue_weights", "latest_survey",
                                           "half_life_days")},
            "cues": [_without(c, "quote") for c in emotion.get("cues") or []],
        },
        "risk_signals": [{**s, "detail": redact(str(s.get("detail") or ""))}
                         for s in explanation.get("risk_signals") or []],
        "reason_evidence": [_without(e, "quote") for e in explanation.get("reason_evidence") or []],
        "stage_history": [{**h, "because": redact(str(h.get("because") or ""))}
                          for h in explanation.get("stage_history") or []],
        "stage_emotions": {stage: {**agg, "pain_points": [_without(p, "quote") for p in agg.get("pain_points") or []]}
                           for stage, agg in (explanation.get("stage_emotions") or {}).items()},
    }
    return kept


def redact(text: str) -> str:
    """``text`` with every quoted passage replaced by "…" (in the same quote marks)."""
    text = _DOUBLE_QUOTED.sub(f'"{OMITTED}"', text)
    return _SINGLE_QUOTED.sub(f"'{OMITTED}'", text)


def _without(item: Any, key: str) -> Any:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item
