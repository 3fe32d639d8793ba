"""The incremental form: bounded state, equivalence with analyze, safe persistence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cem_engine import (
    ContactFacts,
    ContactInput,
    ContactState,
    Deal,
    Interaction,
    StateError,
    analyze,
    load_config,
    new_state,
    snapshot,
    update,
)
from cem_engine.config import config_from_mapping

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BODIES = ("Still waiting on our ticket, this is frustrating.", "Thanks, works great.",
          "The export crashes again.", "Can you add a user?")


def _history(n: int) -> list[Interaction]:
    return [Interaction(id=f"i{k}", contact_id="c", kind="email", direction="inbound",
                        occurred_at=NOW - timedelta(hours=3 * (n - k)), body=BODIES[k % len(BODIES)])
            for k in range(n)]


def test_state_stays_bounded_however_long_the_history() -> None:
    small, large = new_state(ContactFacts(contact_id="c")), new_state(ContactFacts(contact_id="c"))
    for i in _history(20):
        update(small, i)
    for i in _history(3000):
        update(large, i)
    for name in ("cue_hits", "negatives", "intents", "tickets", "offers", "advocacy", "activity", "emo_days"):
        assert len(getattr(large, name)) <= max(64, len(getattr(small, name))), name
    assert large.interactions == 3000
    # only the dedupe digests grow (8 bytes each), and they are capped by limits.seen_ids
    assert len(large.seen) == 3000


def test_dedupe_cap_forgets_only_the_oldest() -> None:
    config = config_from_mapping({"limits": {"seen_ids": 10}})
    state = new_state(ContactFacts(contact_id="c"), config=config)
    history = _history(30)
    for i in history:
        update(state, i)
    assert len(state.seen) == 10 and state.interactions == 30
    update(state, history[0])  # older than the horizon: ignored rather than counted twice
    update(state, history[-1])  # remembered: ignored
    assert state.interactions == 30


def test_snapshot_equals_analyze_on_a_full_journey() -> None:
    deals = (Deal(id="d", contact_id="c", stage="closedwon", created=NOW.date() - timedelta(days=40),
                  close_date=NOW.date() - timedelta(days=20)),)
    data = ContactInput(contact=ContactFacts(contact_id="c", lifecycle_stage="customer"), deals=deals,
                        interactions=tuple(_history(50)))
    state = new_state(data.contact, data.deals)
    for i in reversed(data.interactions):
        update(state, i)
    assert snapshot(state, NOW) == analyze(data, now=NOW)


def test_state_from_another_config_is_refused() -> None:
    state = new_state(ContactFacts(contact_id="c"))
    saved = json.loads(json.dumps(state.to_dict()))
    other = config_from_mapping({"emotion": {"half_life_days": 10}})
    with pytest.raises(StateError, match="different engine config"):
        ContactState.from_dict(saved, other)
    assert ContactState.from_dict(saved, load_config()).contact == state.contact
    with pytest.raises(StateError):
        ContactState.from_dict({"version": 99})
    with pytest.raises(StateError, match="corrupt"):
        ContactState.from_dict({**saved, "emo_w": "zz"})
