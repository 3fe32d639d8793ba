"""Terminal tables at 80 columns (and narrower, and piped wide): nothing cut off at the edge, no column
squeezed to nothing, prose wrapped at word boundaries, ids shortened but still unique."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from connector.commands.analyze import _table as analyze_table
from connector.commands.ops import connections_table, errors_table
from connector.commands.tables import clip, short_ids
from demo.command import demo_table

EVIDENCE = ('Onboarding confusion. Email 2026-09-12: "I still can\'t figure out how to connect our mailbox, the setup '
            'guide is confusing." (setup / onboarding complaint 11 days after purchase, in the onboarding window).')
GUIDS = ["6d81597f-0f9f-e711-8122-000d3a2ba2ea", "6d81597f-0f9f-e711-8122-000d3a2ba2eb",
         "9a0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3"]
SF_IDS = ["0038d0000000005AAA", "0038d0000000006AAA", "0038d0000000105AAM"]


def render(table, width: int) -> list[str]:  # type: ignore[no-untyped-def]
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False, record=True)
    console.print(table)
    return console.export_text().splitlines()


def check_fits(lines: list[str], width: int, headers: list[str]) -> str:
    text = "\n".join(lines)
    for line in lines:
        assert len(line) <= width, line
        if line[:1] in "┏┃┡│├└":
            assert line.rstrip()[-1] in "┓┃┩│┤┘", f"right edge cut off: {line!r}"
    shown = [h for h in headers if h in text]
    assert len(shown) >= 3  # the essentials survive at this width
    for line in (line for line in lines if line.startswith("│")):
        for cell in line.rstrip().split("│")[1:-1]:
            assert len(cell) >= 3, f"a column squeezed to nothing: {line!r}"
    return text


def analyze_rows() -> list[dict]:  # type: ignore[type-arg]
    return [{"contact_id": guid, "journey_stage": "onboarding", "journey_stage_since": "2026-09-01T00:00:00Z",
             "emotion": "confused", "emotion_score": -50, "emotion_trend": -50, "churn_risk": 40,
             "churn_reason": "onboarding_confusion", "churn_reason_detail": EVIDENCE} for guid in GUIDS]


@pytest.mark.parametrize("width", [80, 60, 100, 160])
def test_analyze_table(width: int) -> None:
    text = check_fits(render(analyze_table(analyze_rows(), width), width), width,
                      ["Contact", "Stage (since)", "Emotion", "Trend", "Risk", "Reason", "Evidence"])
    assert "onboarding_confusion" in text  # short values never cut
    if width >= 80:
        assert "Evidence" in text
        words = re.sub(r"[│┃\s]+", " ", text)
        for word in ("mailbox,", "onboarding", "confusing.\"", "purchase,"):
            assert word in words  # wrapped at word boundaries, never mid-word
    if width < 100:
        assert "Not shown at this width:" in text


@pytest.mark.parametrize("width", [80, 100, 200])
def test_status_tables(width: int) -> None:
    connections = [{"id": i + 1, "platform": p, "name": "acme-production", "account_id": a, "contacts_analysed": 1200,
                    "contacts_written": 1187, "dead_letters": 3, "api_calls_today": 48211,
                    "webhook_url": f"https://cem.example.com/webhooks/{p}/{i + 1}"}
                   for i, (p, a) in enumerate([("salesforce", "00D8d0000000001EAA"), ("dynamics", GUIDS[0]),
                                               ("hubspot", "243199922")])]
    text = check_fits(render(connections_table(connections, width), width), width,
                      ["id", "platform", "name", "account", "analysed", "written", "dead"])
    if width >= 200:
        assert "https://cem.example.com/webhooks/salesforce/1" in text.replace("\n", "")
    errors = [{"id": 7 + n, "connection_id": 1, "contact_id": c, "job": "refresh", "attempts": 6,
               "error": "RateLimited: Salesforce REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded; retry after "
                        "the rolling 24 hour window frees calls"} for n, c in enumerate(SF_IDS)]
    text = check_fits(render(errors_table(errors, width), width), width, ["id", "contact", "error"])
    assert "REQUEST_LIMIT_EXCEEDED:" in text


@pytest.mark.parametrize("width", [80, 120, 160])
def test_demo_table(width: int) -> None:
    rows = [{"platform": "Dynamics 365", "contact_id": guid, "name": "Harriet Okonkwo-Lindqvist",
             "journey_stage": "at_risk", "emotion_score": -62.0, "emotion": "frustrated", "churn_risk": 88,
             "churn_reason": "support_friction", "churn_reason_detail": EVIDENCE} for guid in GUIDS]
    text = check_fits(render(demo_table("Dynamics 365", rows, width), width), width,
                      ["contact", "journey stage", "risk", "churn reason"])
    ids = set(short_ids(GUIDS).values())
    assert len(ids) == 3 and all(i in text for i in ids)


def test_short_ids_stay_distinguishable() -> None:
    assert short_ids(GUIDS) == {GUIDS[0]: "…3a2ba2ea", GUIDS[1]: "…3a2ba2eb", GUIDS[2]: "…90a1b2c3"}
    shortened = short_ids(SF_IDS)
    assert len(set(shortened.values())) == 3 and all(len(v) <= 10 for v in shortened.values())
    assert short_ids(["101", "202"]) == {"101": "101", "202": "202"}  # short ids stay whole
    unique = short_ids([f"6d81597f-0f9f-e711-8122-{n:012x}" for n in range(300)])
    assert len(set(unique.values())) == 300


def test_clip_cuts_at_a_word_boundary() -> None:
    assert clip("the setup guide is confusing", 20) == "the setup guide is…"
    assert clip("short", 20) == "short"
