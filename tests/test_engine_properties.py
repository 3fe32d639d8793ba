"""Invariants of the engine, checked on generated timelines (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cem_engine import (
    CHURN_REASONS,
    EMOTIONS,
    JOURNEY_STAGES,
    ContactFacts,
    ContactInput,
    ContactState,
    Deal,
    Interaction,
    analyze,
    new_state,
    snapshot,
    update,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
TEXTS = (
    "", "Thanks, everything works great!", "We are still waiting for a reply on our ticket.",
    "The setup is confusing and I can't figure out the import.", "The app crashes every time we export.",
    "This is far too expensive for what we get.", "We are switching to Trackwell next quarter.",
    "<p>I love the new dashboard.</p><blockquote>Terrible news from the rep side</blockquote>",
    "Please cancel our subscription.", "We were charged twice on the invoice.",
    "Our account manager never returns my calls.", "Happy to recommend you to a colleague!",
    "Still no answer.\n\nOn Mon, 1 Jun 2026, Rep <r@x.example> wrote:\n> We are thrilled!",
    "It doesn't support multi-currency, which is a dealbreaker.", "Ok.",
    "She said they are trialling another tool and will give notice.", "Left voicemail.",
    "My parcel still hasn't arrived.", "If this is not fixed we will cancel our contract.",
)

interaction_fields = st.fixed_dictionaries({
    "kind": st.sampled_from(("email", "call", "note", "meeting", "ticket", "chat", "survey", "form")),
    "direction": st.sampled_from(("inbound", "inbound", "outbound", "internal")),
    "author": st.sampled_from((None, None, "customer", "rep", "system")),
    "minutes_ago": st.integers(min_value=0, max_value=500 * 24 * 60),
    "body": st.sampled_from(TEXTS),
    "subject": st.sampled_from(("", "Re: Upgrade offer", "Help", "Invoice")),
    "metadata": st.one_of(
        st.just({}), st.builds(lambda n: {"nps": n}, st.integers(0, 10)),
        st.builds(lambda c: {"csat": c}, st.integers(1, 5)),
        st.builds(lambda s: {"status": s}, st.sampled_from(("open", "closed", "escalated", "Waiting on customer"))),
        st.builds(lambda o: {"outcome": o}, st.sampled_from(("connected", "no_answer", "voicemail"))),
        st.just({"form_type": "cancellation"}), st.just({"replied": False}),
        st.builds(lambda c: {"category": c, "priority": "URGENT"}, st.sampled_from(("Billing", "Bug", ""))),
    ),
})


def _deal(i: int, stage: str, kind: str, created_ago: int, close_after: int | None) -> Deal:
    created = (NOW - timedelta(days=created_ago)).date()
    close = created + timedelta(days=close_after) if close_after is not None else None
    return Deal(id=f"d{i}", contact_id="c1", stage=stage, type=kind, name=f"Deal {i}", created=created,
                close_date=close, lost_reason="Chose a cheaper competitor" if stage == "closedlost" else "")


deals_strategy = st.lists(
    st.tuples(st.sampled_from(("qualifiedtobuy", "contractsent", "closedwon", "closedwon", "closedlost")),
              st.sampled_from(("new_business", "upsell", "renewal")), st.integers(0, 700),
              st.one_of(st.none(), st.integers(0, 90))),
    max_size=3,
).map(lambda items: tuple(_deal(i, *item) for i, item in enumerate(items)))

contacts = st.builds(
    lambda lifecycle, renewal, created: ContactFacts(
        contact_id="c1", lifecycle_stage=lifecycle,
        renewal_date=(NOW + timedelta(days=renewal)).date() if renewal is not None else None,
        created_at=NOW - timedelta(days=created)),
    st.sampled_from((None, "lead", "salesqualifiedlead", "customer", "evangelist", "churned", "other")),
    st.one_of(st.none(), st.integers(-60, 400)), st.integers(0, 900),
)


@st.composite
def timelines(draw: st.DrawFn) -> ContactInput:
    rows = draw(st.lists(interaction_fields, max_size=25))
    interactions = tuple(
        Interaction(id=f"i{n}", contact_id="c1", kind=r["kind"], direction=r["direction"], author=r["author"],
                    occurred_at=NOW - timedelta(minutes=r["minutes_ago"]), subject=r["subject"], body=r["body"],
                    metadata=r["metadata"])
        for n, r in enumerate(rows)
    )
    return ContactInput(contact=draw(contacts), deals=draw(deals_strategy), interactions=interactions)


def as_json(profile: object) -> str:
    return json.dumps(profile.to_dict(), sort_keys=True, default=str)  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(timelines())
def test_outputs_stay_within_bounds(data: ContactInput) -> None:
    p = analyze(data, now=NOW)
    assert -100 <= p.emotion_score <= 100
    assert -200 <= p.emotion_trend <= 200
    assert 0 <= p.churn_risk <= 100 and isinstance(p.churn_risk, int)
    assert p.emotion in EMOTIONS and p.journey_stage in JOURNEY_STAGES and p.churn_reason in CHURN_REASONS
    ids = {i.id for i in data.interactions} | {d.id for d in data.deals}  # a closed-lost reason is a deal's record
    assert {e["interaction_id"] for e in p.explanation["reason_evidence"]} <= ids
    assert (p.churn_reason == "none") == (not p.explanation["reason_evidence"])
    assert p.churn_risk == min(100, sum(s["points"] for s in p.explanation["risk_signals"]))
    json.dumps(p.to_dict())  # the whole profile, explanation included, is JSON


@settings(max_examples=40, deadline=None)
@given(timelines())
def test_deterministic(data: ContactInput) -> None:
    assert as_json(analyze(data, now=NOW)) == as_json(analyze(data, now=NOW))


@settings(max_examples=60, deadline=None)
@given(timelines(), st.randoms(use_true_random=False))
def test_order_of_arrival_does_not_change_the_result(data: ContactInput, rnd: object) -> None:
    shuffled = list(data.interactions)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    other = ContactInput(contact=data.contact, deals=tuple(reversed(data.deals)), interactions=tuple(shuffled))
    assert as_json(analyze(other, now=NOW)) == as_json(analyze(data, now=NOW))


@settings(max_examples=60, deadline=None)
@given(timelines(), st.lists(st.integers(min_value=0, max_value=100), max_size=10))
def test_duplicated_interactions_do_not_change_the_result(data: ContactInput, picks: list[int]) -> None:
    if not data.interactions:
        return
    extra = tuple(data.interactions[p % len(data.interactions)] for p in picks)
    doubled = ContactInput(contact=data.contact, deals=data.deals, interactions=data.interactions + extra)
    assert as_json(analyze(doubled, now=NOW)) == as_json(analyze(data, now=NOW))


@settings(max_examples=40, deadline=None)
@given(timelines(), st.integers(min_value=0, max_value=25))
def test_incremental_equals_batch_even_across_persistence(data: ContactInput, cut: int) -> None:
    state = new_state(data.contact, data.deals)
    for interaction in data.interactions[:cut]:
        update(state, interaction)
    # the connector persists the state as JSON between events
    state = ContactState.from_dict(json.loads(json.dumps(state.to_dict())))
    for interaction in data.interactions[cut:]:
        state = update(state, interaction)
    assert as_json(snapshot(state, NOW)) == as_json(analyze(data, now=NOW))


def test_deal_dates_may_be_dates_or_datetimes() -> None:
    deal = Deal(id="d", contact_id="c1", stage="closedwon", created=date(2026, 1, 1),
                close_date=datetime(2026, 1, 5, 10, tzinfo=UTC))
    state = new_state(ContactFacts(contact_id="c1"), [deal])
    restored = ContactState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored.deals == state.deals
