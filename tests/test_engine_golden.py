"""Golden suite: hand-written customer timelines (tests/golden/*.jsonl) -> expected stage and reason.

Run ``python -m tests.test_engine_golden`` for the per-case table and the accuracy figures.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cem_engine import CHURN_REASONS, JOURNEY_STAGES, ContactInput, Profile, analyze
from cem_engine.exchange import read_records

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MIN_STAGE_ACCURACY = 0.9
MIN_REASON_ACCURACY = 0.9


def load_cases() -> list[tuple[ContactInput, dict[str, Any]]]:
    cases = []
    for path in sorted(GOLDEN.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        expected = {}
        for line in lines:
            record = json.loads(line)
            if record["record"] == "contact":
                expected[record["contact_id"]] = record["expected"]
        cases += [(c, expected[c.contact.contact_id]) for c in read_records(lines)]
    return cases


CASES = load_cases()
RESULTS: list[tuple[ContactInput, dict[str, Any], Profile]] = [(c, e, analyze(c, now=NOW)) for c, e in CASES]


def test_suite_size_and_coverage() -> None:
    assert len(CASES) >= 40
    assert {e["journey_stage"] for _, e in CASES} == set(JOURNEY_STAGES)
    assert {e["churn_reason"] for _, e in CASES} == set(CHURN_REASONS)


def accuracy() -> tuple[float, float]:
    stage = sum(p.journey_stage == e["journey_stage"] for _, e, p in RESULTS) / len(RESULTS)
    reason = sum(p.churn_reason == e["churn_reason"] for _, e, p in RESULTS) / len(RESULTS)
    return stage, reason


def test_accuracy_of_stage_and_reason() -> None:
    stage, reason = accuracy()
    misses = [(c.contact.contact_id, e["journey_stage"], p.journey_stage, e["churn_reason"], p.churn_reason)
              for c, e, p in RESULTS if (p.journey_stage, p.churn_reason) != (e["journey_stage"], e["churn_reason"])]
    assert stage >= MIN_STAGE_ACCURACY, misses
    assert reason >= MIN_REASON_ACCURACY, misses


@pytest.mark.parametrize("case", [r for r in RESULTS if "max_risk" in r[1] or "min_risk" in r[1]],
                         ids=lambda r: r[0].contact.contact_id)
def test_risk_bounds(case: tuple[ContactInput, dict[str, Any], Profile]) -> None:
    _, expected, profile = case
    assert expected.get("min_risk", 0) <= profile.churn_risk <= expected.get("max_risk", 100), \
        profile.explanation["risk_signals"]


@pytest.mark.parametrize("case", [r for r in RESULTS if r[0].contact.contact_id.startswith("c-")],
                         ids=lambda r: r[0].contact.contact_id)
def test_controls_are_exact(case: tuple[ContactInput, dict[str, Any], Profile]) -> None:
    """Happy and rep-negativity controls must never be misread, whatever the overall accuracy."""
    _, expected, profile = case
    assert profile.churn_reason == "none", profile.churn_reason_detail
    assert profile.journey_stage == expected["journey_stage"]
    assert profile.emotion_score >= 0


@pytest.mark.parametrize("case", [r for r in RESULTS if any(i.effective_author != "customer"
                                                              for i in r[0].interactions)],
                         ids=lambda r: r[0].contact.contact_id)
def test_rep_authored_text_has_no_effect_on_emotion(case: tuple[ContactInput, dict[str, Any], Profile]) -> None:
    data, _, profile = case
    silent_reps = replace(data, interactions=tuple(
        replace(i, body="", subject="") if i.effective_author != "customer" and i.direction != "outbound" else i
        for i in data.interactions))
    other = analyze(silent_reps, now=NOW)
    assert (other.emotion_score, other.emotion, other.emotion_trend) == \
        (profile.emotion_score, profile.emotion, profile.emotion_trend)


def test_every_reason_comes_with_real_evidence() -> None:
    for data, _, profile in RESULTS:
        evidence = profile.explanation["reason_evidence"]
        if profile.churn_reason == "none":
            assert evidence == []
            assert "nothing" in profile.churn_reason_detail
            continue
        assert evidence, data.contact.contact_id
        by_id = {i.id: i for i in data.interactions}
        for item in evidence:
            source = by_id[item["interaction_id"]]  # evidence always points at a real interaction ...
            assert source.effective_author == "customer" or source.kind in ("call", "meeting")
            quote = item["quote"].rstrip("…")
            # ... and quotes words that are really in it
            assert quote in " ".join(f"{source.subject} {source.body}".split()) or \
                quote in " ".join(source.body.replace("<", " <").split()), (item, source.body)
            assert item["date"] == source.occurred_at.date().isoformat()
            assert item["kind"] == source.kind and item["why"]


def main() -> None:
    for data, expected, profile in RESULTS:
        mark = "ok " if (profile.journey_stage, profile.churn_reason) == (expected["journey_stage"],
                                                                        expected["churn_reason"]) else "MISS"
        print(f"{mark} {data.contact.contact_id:10} stage {expected['journey_stage']:>13} -> {profile.journey_stage:13}"
              f" reason {expected['churn_reason']:>20} -> {profile.churn_reason:20} risk {profile.churn_risk}")
    stage, reason = accuracy()
    print(f"\n{len(RESULTS)} timelines: stage accuracy {stage:.1%}, reason accuracy {reason:.1%}")


if __name__ == "__main__":
    main()
