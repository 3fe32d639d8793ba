"""Closed ticket statuses are one list: a cancelled ticket is closed wherever the engine asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cem_engine import analyze
from cem_engine.model import ContactFacts, ContactInput, Interaction

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _tickets(status: str) -> ContactInput:
    """Three angry tickets in two weeks (a support-friction burst), all in ``status``."""
    tickets = tuple(
        Interaction(id=f"t{n}", contact_id="c", kind="ticket", direction="inbound", author="customer",
                    occurred_at=NOW - timedelta(days=3 + 4 * n), subject=f"Waiting for support ({n})",
                    body="Please see the attached log file.",
                    metadata={"status": status})
        for n in range(3))
    return ContactInput(contact=ContactFacts(contact_id="c", lifecycle_stage="customer"), interactions=tickets)


def _burst_detail(status: str) -> str:
    profile = analyze(_tickets(status), now=NOW)
    whys = [e["why"] for e in profile.explanation["reason_evidence"] if "tickets in" in e["why"]]
    assert whys, f"no ticket-burst evidence for status {status!r}: {profile.explanation['reason_evidence']}"
    return whys[0]


@pytest.mark.parametrize("status", ["closed", "resolved", "solved", "done", "cancelled", "canceled"])
def test_closed_tickets_are_not_counted_as_open(status: str) -> None:
    assert _burst_detail(status).endswith("0 still open")


def test_open_tickets_are_counted_as_open() -> None:
    assert _burst_detail("open").endswith("3 still open")


@pytest.mark.parametrize("status", ["cancelled", "closed"])
def test_closed_tickets_raise_no_unresolved_case_risk(status: str) -> None:
    signals = analyze(_tickets(status), now=NOW).explanation.get("risk_signals") or []
    assert not [s for s in signals if "unresolved_cases" in str(s)]
