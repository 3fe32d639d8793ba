"""Engine configuration: packaged TOML defaults, an admin's TOML laid over them, strict validation.

Everything an admin may want to tune without code lives here: lexicon additions, cue lists, weights,
half-lives, windows and stage rules. The defaults file doubles as the schema: a key that is not in it
is a typo and is rejected, and every value must have the type of its default.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

from .errors import ConfigError
from .model import EMOTIONS, JOURNEY_STAGES
from .taxonomy import Taxonomy, build_taxonomy


@dataclass(frozen=True)
class EmotionSettings:
    half_life_days: float
    trend_days: int
    prior_weight: float
    neutral_band: float
    satisfied_at: float
    delighted_at: float
    angry_at: float
    survey_weight: float
    neutral_message_weight: float
    model_weight: float
    nps_scale: tuple[float, ...]
    csat_scale: tuple[float, ...]


@dataclass(frozen=True)
class AdvocacySettings:
    phrases: tuple[str, ...]
    min_nps: int
    window_days: int
    min_score: float
    max_risk: int


@dataclass(frozen=True)
class ReasonSettings:
    top_k: int
    cue_bonus: float
    min_margin: float
    rep_note_weight: float
    system_weight: float
    unanswered_count: int
    unanswered_days: int
    half_life_days: float
    min_score: float
    sentence_floor: float
    onboarding_boost: float
    outside_onboarding_factor: float
    upsell_window_days: int
    upsell_boost: float
    after_case_days: int
    ticket_burst_days: int
    ticket_burst_count: int
    ticket_burst_score: float
    disengagement_score: float
    max_evidence: int
    quote_chars: int


@dataclass(frozen=True)
class SilenceSettings:
    min_activities: int
    cadence_sample: int
    factor: float
    min_days: float


@dataclass(frozen=True)
class RiskSettings:
    emotion_per_point: float
    emotion_max: int
    trend_threshold: float
    trend_per_point: float
    trend_max: int
    open_case_points: int
    open_case_max: int
    urgent_case_points: int
    case_window_days: int
    intent_points: int
    intent_window_days: int
    silence_points: int
    silence_max: int
    renewal_window_days: int
    renewal_points_unhappy: int
    renewal_points_neutral: int


@dataclass(frozen=True)
class StageSettings:
    purchase_days: int
    onboarding_days: int
    renewal_window_days: int
    renewal_grace_days: int
    at_risk_threshold: int
    lifecycle: Mapping[str, str]
    deal_stage: Mapping[str, str]


@dataclass(frozen=True)
class LimitSettings:
    max_text_chars: int
    max_sentences: int
    recent_negatives: int
    recent_items: int
    seen_ids: int


@dataclass(frozen=True)
class EngineConfig:
    """The validated engine configuration; build it with ``load_config``."""

    emotion: EmotionSettings
    words: Mapping[str, float]          # VADER lexicon additions
    phrases: Mapping[str, float]        # multi-word valence cues
    cues: Mapping[str, tuple[str, ...]]  # emotion label -> cue phrases
    intent: tuple[str, ...]
    advocacy: AdvocacySettings
    taxonomy: Taxonomy                   # churn reasons: label, description, examples, cues
    competitor_names: tuple[str, ...]    # named rivals: "switch to <name>" is an intent to leave
    offers: tuple[str, ...]
    reason: ReasonSettings
    silence: SilenceSettings
    risk: RiskSettings
    stages: StageSettings
    limits: LimitSettings
    fingerprint: str  # stable hash of the merged settings: persisted states remember which config built them


def _defaults_text() -> str:
    return resources.files("cem_engine").joinpath("default_config.toml").read_text(encoding="utf-8")


def _merge(base: dict[str, Any], override: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Lay ``override`` over ``base``: tables merge, anything else replaces; unknown keys are errors.

    Tables whose defaults are open-ended word lists (lexicon words / phrases, stage maps) accept new keys.
    """
    open_tables = {"lexicon.words", "lexicon.phrases", "stages.lifecycle", "stages.deal_stage", "reasons"}
    merged = dict(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if key not in base:
            if path in open_tables:
                merged[key] = value
                continue
            raise ConfigError(f"unknown setting {where!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where!r} must be a table")
            merged[key] = _merge(base[key], value, where)
        else:
            merged[key] = value
    return merged


def _check_value(value: Any, expected: Any, where: str) -> Any:
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where!r} must be a number, got {value!r}")
        return float(value)
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where!r} must be an integer, got {value!r}")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where!r} must be a string, got {value!r}")
        return value
    raise AssertionError(f"unsupported setting type {expected}")  # programming error, not user input


def _build(cls: type, table: Mapping[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in table:
            raise ConfigError(f"missing setting '{where}.{f.name}'")
        raw, hint = table[f.name], hints[f.name]
        name = f"{where}.{f.name}"
        if hint == tuple[str, ...] or hint == tuple[float, ...]:
            item = str if hint == tuple[str, ...] else float
            if not isinstance(raw, list):
                raise ConfigError(f"{name!r} must be a list")
            values[f.name] = tuple(_check_value(v, item, name) for v in raw)
        elif hint == Mapping[str, str]:
            if not isinstance(raw, dict):
                raise ConfigError(f"{name!r} must be a table")
            values[f.name] = {str(k): _check_value(v, str, f"{name}.{k}") for k, v in raw.items()}
        else:
            values[f.name] = _check_value(raw, hint, name)
    return cls(**values)


def _phrase_list(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ConfigError(f"{where!r} must be a list of non-empty strings")
    return tuple(p.strip().lower() for p in raw)


def _number_table(raw: Any, where: str, low: float, high: float) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where!r} must be a table")
    out: dict[str, float] = {}
    for key, value in raw.items():
        number = _check_value(value, float, f"{where}.{key}")
        if not low <= number <= high:
            raise ConfigError(f"'{where}.{key}' must be between {low} and {high}, got {number}")
        out[key.strip().lower()] = number
    return out


def _validate(cfg: EngineConfig) -> None:
    positive = {
        "emotion.half_life_days": cfg.emotion.half_life_days, "reason.half_life_days": cfg.reason.half_life_days,
        "emotion.trend_days": cfg.emotion.trend_days, "stages.onboarding_days": cfg.stages.onboarding_days,
        "limits.max_text_chars": cfg.limits.max_text_chars, "limits.max_sentences": cfg.limits.max_sentences,
        "limits.recent_negatives": cfg.limits.recent_negatives, "limits.recent_items": cfg.limits.recent_items,
        "limits.seen_ids": cfg.limits.seen_ids, "reason.max_evidence": cfg.reason.max_evidence,
        "silence.cadence_sample": cfg.silence.cadence_sample, "reason.quote_chars": cfg.reason.quote_chars,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name!r} must be greater than 0, got {value}")
    if cfg.emotion.half_life_days < 1 or cfg.reason.half_life_days < 1:
        raise ConfigError("half-lives must be at least 1 day")
    if len(cfg.emotion.nps_scale) != 11:
        raise ConfigError("'emotion.nps_scale' needs 11 values (NPS 0..10)")
    if len(cfg.emotion.csat_scale) != 5:
        raise ConfigError("'emotion.csat_scale' needs 5 values (CSAT 1..5)")
    for value in (*cfg.emotion.nps_scale, *cfg.emotion.csat_scale):
        if not -100 <= value <= 100:
            raise ConfigError(f"survey scale values must be within -100..100, got {value}")
    if not 0 <= cfg.stages.at_risk_threshold <= 101:
        raise ConfigError("'stages.at_risk_threshold' must be within 0..101 (101 = only a stated intent)")
    if cfg.reason.top_k < 1 or cfg.reason.unanswered_count < 1:
        raise ConfigError("'reason.top_k' and 'reason.unanswered_count' must be at least 1")
    for name in ("rep_note_weight", "system_weight"):
        if not 0 <= getattr(cfg.reason, name) <= 1:
            raise ConfigError(f"'reason.{name}' must be within 0..1")
    if not 0 <= cfg.emotion.model_weight <= 1:
        raise ConfigError("'emotion.model_weight' must be within 0..1")
    if cfg.emotion.prior_weight < 0:
        raise ConfigError("'emotion.prior_weight' must not be negative")
    stage_names = {*JOURNEY_STAGES, "customer"}
    for table, mapping in (("stages.lifecycle", cfg.stages.lifecycle), ("stages.deal_stage", cfg.stages.deal_stage)):
        for key, stage in mapping.items():
            if stage not in stage_names:
                raise ConfigError(f"'{table}.{key}' = {stage!r} is not a journey stage ({', '.join(JOURNEY_STAGES)})")


def _from_merged(data: Mapping[str, Any]) -> EngineConfig:
    cues_raw = data["cues"]
    unknown = set(cues_raw) - set(EMOTIONS)
    if unknown:
        raise ConfigError(f"unknown emotion in [cues]: {', '.join(sorted(unknown))}")
    reasons_raw = dict(data["reasons"])
    taxonomy_name = reasons_raw.pop("taxonomy")
    if not isinstance(taxonomy_name, str):
        raise ConfigError("'reasons.taxonomy' must be a string")
    names = _phrase_list(reasons_raw.pop("competitor_names"), "reasons.competitor_names")
    taxonomy = build_taxonomy(taxonomy_name, reasons_raw, names)
    cfg = EngineConfig(
        emotion=_build(EmotionSettings, data["emotion"], "emotion"),
        words=_number_table(data["lexicon"]["words"], "lexicon.words", -4.0, 4.0),
        phrases=_number_table(data["lexicon"]["phrases"], "lexicon.phrases", -1.0, 1.0),
        cues={k: _phrase_list(v, f"cues.{k}") for k, v in cues_raw.items()},
        intent=_phrase_list(data["intent"]["phrases"], "intent.phrases"),
        advocacy=_build(AdvocacySettings, data["advocacy"], "advocacy"),
        taxonomy=taxonomy,
        competitor_names=names,
        offers=_phrase_list(data["offers"]["phrases"], "offers.phrases"),
        reason=_build(ReasonSettings, data["reason"], "reason"),
        silence=_build(SilenceSettings, data["silence"], "silence"),
        risk=_build(RiskSettings, data["risk"], "risk"),
        stages=_build(StageSettings, data["stages"], "stages"),
        limits=_build(LimitSettings, data["limits"], "limits"),
        fingerprint=hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16],
    )
    _validate(cfg)
    return cfg


def config_from_mapping(override: Mapping[str, Any] | None = None) -> EngineConfig:
    """The defaults with ``override`` (same shape as the TOML file) laid over them."""
    base = tomllib.loads(_defaults_text())
    return _from_merged(_merge(base, override or {}, ""))


def load_config(path: str | Path | None = None) -> EngineConfig:
    """Read an admin's TOML file over the packaged defaults; ``None`` gives the defaults."""
    if path is None:
        return default_config()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read engine config {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        override = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"engine config {str(path)!r} is not valid TOML: {exc}") from exc
    try:
        return config_from_mapping(override)
    except ConfigError as exc:
        raise ConfigError(f"engine config {str(path)!r}: {exc}") from exc


_DEFAULT: EngineConfig | None = None


def default_config() -> EngineConfig:
    """The packaged defaults, parsed once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = config_from_mapping(None)
    return _DEFAULT
