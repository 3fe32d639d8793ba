"""Emotion score, trend and label from the running aggregates of a ``ContactState``."""

from __future__ import annotations

from dataclasses import dataclass

from . import decay
from .config import EngineConfig
from .state import NEGATIVE_EMOTIONS, ContactState


@dataclass(frozen=True)
class EmotionReading:
    score: float        # -100..100, time-decayed
    trend: float        # score now minus score ``trend_days`` ago
    label: str
    cue_weights: dict[str, float]


def _score(w: int, ws: int, day: float, config: EngineConfig) -> float:
    half_life = config.emotion.half_life_days
    weight = decay.evaluate(w, day, half_life)
    if weight <= 0:
        return 0.0
    # The prior is one neutral observation "now": with only old messages the score drifts back toward 0.
    value = decay.evaluate(ws, day, half_life) / (weight + config.emotion.prior_weight)
    return max(-100.0, min(100.0, value))


def _label(score: float, cues: dict[str, float], config: EngineConfig) -> str:
    settings = config.emotion
    if score >= settings.delighted_at:
        return "delighted"
    if score >= settings.satisfied_at:
        return "satisfied"
    if score > -settings.neutral_band:
        return "neutral"
    ranked = sorted(NEGATIVE_EMOTIONS, key=lambda e: (-cues.get(e, 0.0), NEGATIVE_EMOTIONS.index(e)))
    best = ranked[0] if cues.get(ranked[0], 0.0) > 0 else None
    if best is None:  # no cue says which kind of negative: intensity decides
        return "angry" if score <= settings.angry_at else "frustrated" if score <= -35 else "disappointed"
    if best == "frustrated" and score <= settings.angry_at:
        return "angry"  # frustration this intense reads as anger
    return best


def read_emotion(state: ContactState, day: float) -> EmotionReading:
    config = state.config
    score = _score(state.emo_w, state.emo_ws, day, config)
    then = day - config.emotion.trend_days
    later = [b for d, b in state.emo_days.items() if d > int(then)]
    w_then = state.emo_w - sum(b[0] for b in later)
    ws_then = state.emo_ws - sum(b[1] for b in later)
    trend = score - _score(w_then, ws_then, then, config)
    half_life = config.emotion.half_life_days
    cues = {e: decay.evaluate(v, day, half_life) for e, v in state.cue_sums.items()}
    return EmotionReading(score=score, trend=trend, label=_label(score, cues, config), cue_weights=cues)
