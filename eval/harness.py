"""Runs the engine over a labelled set and turns its answers into the figures of the eval table.

The engine is imported lazily so that ``--engine DIR`` can put an older copy of ``cem_engine`` first on
the path: the "before" column is measured by the same harness on the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import metrics
from .sets import LabelledSet, read_journeys, read_messages

NEGATIVE = ("anxious", "confused", "frustrated", "angry", "disappointed")
POSITIVE = ("satisfied", "delighted")
MESSAGE_NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def polarity_of(emotion: str) -> str:
    return "negative" if emotion in NEGATIVE else "positive" if emotion in POSITIVE else "neutral"


@dataclass
class SetResult:
    name: str
    group: str
    size: int
    engine_note: str
    reason_gold: list[str] = field(default_factory=list)
    reason_pred: list[str] = field(default_factory=list)
    stage_gold: list[str] = field(default_factory=list)
    stage_pred: list[str] = field(default_factory=list)
    polarity_gold: list[str] = field(default_factory=list)
    polarity_pred: list[str] = field(default_factory=list)
    valence_gold: list[float] = field(default_factory=list)
    valence_pred: list[float] = field(default_factory=list)
    complaint_gold: list[bool] = field(default_factory=list)
    complaint_pred: list[bool] = field(default_factory=list)
    emotion_gold: list[str] = field(default_factory=list)
    emotion_pred: list[str] = field(default_factory=list)
    band_gold: list[str] = field(default_factory=list)
    band_pred: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"set": self.name, "group": self.group, "items": self.size, "engine": self.engine_note}
        if self.reason_gold:
            scores = metrics.per_class(self.reason_gold, self.reason_pred)
            out["reason_accuracy"] = round(metrics.accuracy(self.reason_gold, self.reason_pred), 3)
            out["reason_macro_f1"] = round(metrics.macro_f1(scores), 3)
            out["reason_macro_f1_without_none"] = round(metrics.macro_f1(scores, exclude=("none",)), 3)
            out["reason_per_class"] = {s.label: {"support": s.support, "predicted": s.predicted,
                                                 "precision": round(s.precision, 3), "recall": round(s.recall, 3),
                                                 "f1": round(s.f1, 3)} for s in scores}
            labels, counts = metrics.confusion(self.reason_gold, self.reason_pred)
            out["reason_confusion"] = {"labels": labels,
                                       "rows": [[counts.get((g, p), 0) for p in labels] for g in labels]}
        if self.stage_gold:
            out["stage_accuracy"] = round(metrics.accuracy(self.stage_gold, self.stage_pred), 3)
            out["stage_per_class"] = {s.label: {"support": s.support, "recall": round(s.recall, 3),
                                                "precision": round(s.precision, 3)}
                                      for s in metrics.per_class(self.stage_gold, self.stage_pred)}
        if self.polarity_gold:
            for sign in ("negative", "positive", "neutral"):
                rate, n = metrics.recall_of([g == sign for g in self.polarity_gold],
                                            [p == sign for p in self.polarity_pred])
                if n:
                    out[f"{sign}_recall"] = round(rate, 3)
                    out[f"{sign}_items"] = n
        if self.valence_gold:
            out["valence_pearson"] = round(metrics.pearson(self.valence_gold, self.valence_pred), 3)
        if self.complaint_gold:
            rate, n = metrics.recall_of(self.complaint_gold, self.complaint_pred)
            out["complaint_recall"], out["complaint_items"] = round(rate, 3), n
            fp, m = metrics.recall_of([not g for g in self.complaint_gold], self.complaint_pred)
            if m:
                out["complaint_false_alarm"] = round(fp, 3)
        if self.emotion_gold:
            out["emotion_accuracy"] = round(metrics.accuracy(self.emotion_gold, self.emotion_pred), 3)
        if self.band_gold:
            out["risk_band_accuracy"] = round(metrics.accuracy(self.band_gold, self.band_pred), 3)
        return out


def risk_band(risk: int) -> str:
    return "high" if risk >= 67 else "medium" if risk >= 34 else "low"


def _config_for(taxonomy: str, overrides: dict[str, Any]) -> tuple[Any, str]:
    """The engine config for a taxonomy; an engine without taxonomies runs its defaults (and says so)."""
    import cem_engine
    from cem_engine import config as config_module

    merged = {**overrides, "reasons": {**overrides.get("reasons", {}), "taxonomy": taxonomy}}
    try:
        return config_module.config_from_mapping(merged), f"taxonomy {taxonomy}"
    except cem_engine.ConfigError:
        return config_module.config_from_mapping(overrides), "engine has no taxonomy setting: its default reasons"


def run_set(labelled: LabelledSet, overrides: dict[str, Any] | None = None) -> SetResult:
    config, note = _config_for(labelled.taxonomy, overrides or {})
    if labelled.shape == "journeys":
        return _run_journeys(labelled, config, note)
    return _run_messages(labelled, config, note)


def _run_journeys(labelled: LabelledSet, config: Any, note: str) -> SetResult:
    from cem_engine import analyze
    from cem_engine.exchange import read_records

    lines, expected = read_journeys(labelled)
    now = datetime.fromisoformat(labelled.now.replace("Z", "+00:00"))
    contacts = read_records(lines)
    if isinstance(contacts, tuple):  # newer engines return (contacts, problems)
        contacts = contacts[0]
    result = SetResult(labelled.name, labelled.group, len(expected), note)
    for contact in contacts:
        want = expected.get(contact.contact.contact_id)
        if want is None:
            continue
        when = datetime.fromisoformat(want["now"].replace("Z", "+00:00")) if want.get("now") else now
        profile = analyze(contact, now=when, config=config)
        if "churn_reason" in want:
            result.reason_gold.append(want["churn_reason"])
            result.reason_pred.append(profile.churn_reason)
        if "journey_stage" in want:
            result.stage_gold.append(want["journey_stage"])
            result.stage_pred.append(profile.journey_stage)
        if "emotion" in want:
            result.emotion_gold.append(want["emotion"])
            result.emotion_pred.append(profile.emotion)
            result.polarity_gold.append(polarity_of(want["emotion"]))
            result.polarity_pred.append(polarity_of(profile.emotion))
        if "risk_band" in want:
            result.band_gold.append(want["risk_band"])
            result.band_pred.append(risk_band(profile.churn_risk))
    return result


def message_contact(item: dict[str, Any], index: int) -> list[str]:
    """One message as exchange lines: a customer (purchase date unknown, as in a CRM without deal data)
    writes one inbound email, so nothing but the words decides."""
    cid = f"m{index}"
    sent = MESSAGE_NOW - timedelta(days=1)
    return [json.dumps(r) for r in (
        {"record": "contact", "contact_id": cid, "lifecycle_stage": "customer", "created": "2024-01-10"},
        {"record": "interaction", "contact_id": cid, "id": f"{cid}-i", "kind": "email", "direction": "inbound",
         "author": "customer", "occurred_at": sent.isoformat().replace("+00:00", "Z"),
         "subject": item.get("subject", ""), "body": item["text"]},
    )]


def _run_messages(labelled: LabelledSet, config: Any, note: str) -> SetResult:
    from cem_engine import analyze
    from cem_engine.exchange import read_records

    items = read_messages(labelled)
    result = SetResult(labelled.name, labelled.group, len(items), note)
    for index, item in enumerate(items):
        contacts = read_records(message_contact(item, index))
        if isinstance(contacts, tuple):
            contacts = contacts[0]
        profile = analyze(contacts[0], now=MESSAGE_NOW, config=config)
        polarity = polarity_of(profile.emotion)
        if item.get("reason") is not None:
            result.reason_gold.append(item["reason"])
            result.reason_pred.append(profile.churn_reason)
        if item.get("polarity") is not None:
            result.polarity_gold.append(item["polarity"])
            result.polarity_pred.append(polarity)
        if item.get("emotion") is not None:
            result.emotion_gold.append(item["emotion"])
            result.emotion_pred.append(profile.emotion)
        valence = _valence(item)
        if valence is not None:
            result.valence_gold.append(valence)
            result.valence_pred.append(profile.emotion_score)
        complaint = item.get("complaint", item.get("is_complaint"))
        if complaint is not None:
            result.complaint_gold.append(bool(complaint))
            result.complaint_pred.append(profile.churn_reason != "none" or polarity == "negative")
    return result


def _valence(item: dict[str, Any]) -> float | None:
    """A human valence rating: ``valence``, or the ``mean_rating=`` the VADER sets keep in source_label."""
    if item.get("valence") is not None:
        return float(item["valence"])
    label = str(item.get("source_label") or "")
    if label.startswith("mean_rating="):
        return float(label.split("=", 1)[1])
    return None
