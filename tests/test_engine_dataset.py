"""The demo data set: deterministic, realistic, and answerable by the engine."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from cem_engine import CHURN_REASONS, JOURNEY_STAGES, analyze
from cem_engine.exchange import read_records
from sandbox.dataset import demo_records, write_jsonl

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_deterministic_and_relative_to_now() -> None:
    assert demo_records(now=NOW) == demo_records(now=NOW)
    assert demo_records(now=NOW, seed=1) != demo_records(now=NOW)
    later = demo_records(now=datetime(2027, 1, 1, tzinfo=UTC))
    assert later[2]["occurred_at"] > demo_records(now=NOW)[2]["occurred_at"]  # timestamps move with now


def test_shape_and_variety() -> None:
    records = demo_records(now=NOW)
    contacts = [r for r in records if r["record"] == "contact"]
    assert len(contacts) >= 50
    for c in contacts:
        assert {"first_name", "last_name", "email", "company", "created", "expected"} <= set(c)
    expected = Counter(c["expected"]["churn_reason"] for c in contacts)
    assert set(expected) == set(CHURN_REASONS)
    assert {c["expected"]["journey_stage"] for c in contacts} == set(JOURNEY_STAGES)
    interactions = [r for r in records if r["record"] == "interaction"]
    assert {i["kind"] for i in interactions} == {"email", "call", "note", "meeting", "ticket", "chat", "survey", "form"}
    assert any("<blockquote>" in i["body"] for i in interactions)
    assert any("wrote:\n>" in i["body"] or "Original Message" in i["body"] for i in interactions)
    assert any("nps" in i["metadata"] for i in interactions) and any("csat" in i["metadata"] for i in interactions)
    assert max(i["occurred_at"] for i in interactions) <= NOW.isoformat().replace("+00:00", "Z")


def test_engine_agrees_with_the_hints() -> None:
    records = demo_records(now=NOW)
    hints = {r["contact_id"]: r["expected"] for r in records if r["record"] == "contact"}
    results = [analyze(c, now=NOW) for c in read_records(json.dumps(r) for r in records)]
    reason = sum(p.churn_reason == hints[p.contact_id]["churn_reason"] for p in results) / len(results)
    stage = sum(p.journey_stage == hints[p.contact_id]["journey_stage"] for p in results) / len(results)
    # DESIGN.md §3: complaints and silence without a stated intent to leave are not at_risk; "they show in
    # risk and reason", so those stories must read as a medium or high risk.
    pain = [p for p in results if hints[p.contact_id]["churn_reason"] in
            ("support_friction", "product_defect", "billing_issue", "disengagement")]
    assert pain and all(p.churn_risk >= 34 for p in pain), [(p.contact_id, p.churn_risk) for p in pain]
    assert stage >= 0.9 and reason >= 0.9, (stage, reason)


def test_module_prints_jsonl(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sandbox.dataset"], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent, timeout=60)
    lines = out.stdout.splitlines()
    assert len(lines) > 300 and json.loads(lines[0])["record"] == "contact"
    path = tmp_path / "d.jsonl"
    assert write_jsonl(path, demo_records(3, now=NOW)) == len(path.read_text().splitlines())
