"""The eval harness (`make eval`): its arithmetic, and a real run on the golden set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval import metrics
from eval.sets import load_sets

ROOT = Path(__file__).parent.parent


def test_per_class_scores_by_hand() -> None:
    gold = ["a", "a", "b", "none", "none"]
    pred = ["a", "b", "b", "none", "a"]
    scores = {s.label: s for s in metrics.per_class(gold, pred)}
    assert (scores["a"].precision, scores["a"].recall) == (0.5, 0.5)
    assert (scores["b"].precision, scores["b"].recall) == (0.5, 1.0)
    assert scores["b"].f1 == pytest.approx(2 / 3)
    assert metrics.macro_f1(list(scores.values())) == pytest.approx((0.5 + 2 / 3 + 2 / 3) / 3)
    assert metrics.accuracy(gold, pred) == 0.6
    labels, counts = metrics.confusion(gold, pred)
    assert labels == ["a", "b", "none"] and counts[("none", "a")] == 1
    assert metrics.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert metrics.recall_of([True, True, False], [True, False, True]) == (0.5, 2)


def test_every_listed_set_has_its_files_and_a_licence() -> None:
    sets = load_sets()
    assert {s.group for s in sets} == {"golden", "public", "holdout"}
    for labelled in sets:
        assert labelled.files, labelled.name
        assert labelled.licence, labelled.name
    assert {s.name for s in sets if s.split == "train"} <= {f"{s.name}_train" for s in sets if s.split == "test"}


def test_golden_run_prints_and_saves_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "golden.json"
    result = subprocess.run([sys.executable, "-m", "eval", "--set", "golden", "--save", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=True)
    assert "confusion (rows gold, columns engine)" in result.stdout and "billing_issue" in result.stdout
    [summary] = json.loads(out.read_text())
    assert summary["set"] == "golden" and summary["items"] >= 50
    assert summary["stage_accuracy"] >= 0.9 and summary["reason_macro_f1"] >= 0.9
