"""The demo's closing lines: every difference from the scripted story, lines that wrap at words at 80
columns, a caption that points to what really shows emotion and evidence, and where the demo's data is."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

import demo.command as command
from demo.run import story_matches


def _rows(platform: str, n: int, wrong_stage: int, wrong_reason: int) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for i in range(n):
        expected = {"journey_stage": "at_risk", "churn_reason": "support_friction"}
        rows.append({"platform": platform, "name": f"Person{i} Surname", "contact_id": f"{platform[:2]}-{i:04d}",
                     "expected": expected,
                     "journey_stage": "adoption" if i < wrong_stage else "at_risk",
                     "churn_reason": "pricing_value" if n - i <= wrong_reason else "support_friction"})
    return rows


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Console:
    console = Console(width=80, record=True, color_system=None, force_terminal=False)
    monkeypatch.setattr(command, "console", console)
    return console


def test_every_mismatch_is_listed_and_lines_break_at_words(screen: Console) -> None:
    rows = (_rows("HubSpot", 60, 14, 0) + _rows("Salesforce", 60, 14, 0)
            + _rows("Dynamics 365", 60, 0, 3))
    matches = story_matches(rows)
    assert [len(m.misses) for m in matches] == [14, 14, 3]
    command._print_story(matches)
    text = screen.export_text()
    for row in rows:
        if row["journey_stage"] != "at_risk" or row["churn_reason"] != "support_friction":
            assert row["contact_id"] in text, row["contact_id"]
    assert "Dynamics 365 differs from the story for 3 value(s)" in text
    words = set(" ".join(text.split()).split(" "))
    for line in text.splitlines():
        assert len(line) <= 80, line
        for word in line.split():  # no word cut in two by the terminal's edge
            assert word in words


def test_caption_points_to_what_shows_emotion_and_evidence() -> None:
    rows = [{"name": "Ana Lopez", "contact_id": "c1", "journey_stage": "adoption", "emotion_score": -3,
             "emotion": "calm", "churn_risk": 10, "churn_reason": "-", "churn_reason_detail": "x" * 100}]
    table = command.demo_table("HubSpot", rows, 60)
    caption = str(table.caption)
    assert "journey-link" in caption and "admin page show everything" not in caption


def test_the_demo_says_where_its_data_is(screen: Console, tmp_path: Path) -> None:
    run = SimpleNamespace(data_dir=tmp_path / "demo data", platforms=[])
    command._print_where_the_data_is(run)
    text = " ".join(screen.export_text().split())
    assert f"export CEM_DATA_DIR='{tmp_path / 'demo data'}'" in text and "cem-connector status" in text
    assert "demo --serve" in text
