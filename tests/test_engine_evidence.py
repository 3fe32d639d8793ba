"""Engine v2 behaviour: evidence from every source a CRM holds, the stage rules of DESIGN.md §3, reasons
defined by example sentences (two taxonomies, admin-added reasons), and the fallback without the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cem_engine import ContactInput, Profile, analyze, load_config
from cem_engine.config import config_from_mapping
from cem_engine.exchange import read_records

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
ROOT = Path(__file__).parent.parent


def _contact(*records: dict[str, Any], lifecycle: str | None = "customer", created: str = "2024-01-01",
             deals: tuple[dict[str, Any], ...] | None = None) -> ContactInput:
    lines = [{"record": "contact", "contact_id": "c", "lifecycle_stage": lifecycle, "created": created}]
    if deals is None:
        deals = ({"id": "d1", "stage": "closedwon", "created": "2024-01-05", "close_date": "2024-02-01"},)
    lines += [{"record": "deal", "contact_id": "c", **d} for d in deals]
    for n, r in enumerate(records):
        lines.append({"record": "interaction", "contact_id": "c", "id": f"i{n}", "kind": "email",
                      "direction": "inbound", **r})
    [contact] = read_records(json.dumps(line) for line in lines)
    return contact


def _run(data: ContactInput, config: Any = None) -> Profile:
    return analyze(data, now=NOW, config=config)


def test_calm_polite_complaint_is_evidence_and_negative() -> None:
    profile = _run(_contact({"occurred_at": "2026-05-28T09:00:00Z", "subject": "Invoice",
                             "body": "Hi, could you please help? We were charged twice for May. Thanks!"}))
    assert profile.churn_reason == "billing_issue"
    assert "charged twice" in profile.churn_reason_detail


def test_rep_note_reported_speech_is_evidence_with_lower_weight_never_emotion() -> None:
    note = {"kind": "call", "direction": "outbound", "author": "rep", "occurred_at": "2026-05-20T15:00:00Z",
            "subject": "Check-in", "body": "Spoke with Dana. She said they are trialling another tool next month."}
    profile = _run(_contact(note))
    assert profile.churn_reason == "competitor"
    assert 'rep note: "She said they are trialling another tool next month."' in profile.churn_reason_detail
    assert profile.explanation["reason_evidence"][0]["source"] == "rep note"
    assert profile.emotion_score == 0  # the rep's note is not the customer's feeling


def test_rep_own_opinion_in_a_note_is_not_evidence() -> None:
    note = {"kind": "note", "direction": "internal", "author": "rep", "occurred_at": "2026-05-20T15:00:00Z",
            "body": "I think our pricing is too expensive for accounts like this one."}
    assert _run(_contact(note)).churn_reason == "none"


def test_exit_intent_in_a_rep_note_is_at_risk() -> None:
    note = {"kind": "call", "direction": "outbound", "author": "rep", "occurred_at": "2026-05-20T15:00:00Z",
            "body": "He told me they will give notice at the end of the quarter."}
    profile = _run(_contact(note))
    assert profile.journey_stage == "at_risk"
    assert profile.journey_stage_since == datetime(2026, 5, 20, 15, tzinfo=UTC)


def test_stated_intent_is_at_risk_whatever_the_risk_score() -> None:
    profile = _run(_contact({"occurred_at": "2026-05-25T09:00:00Z",
                             "body": "If this happens again we will serve notice on the contract."}))
    assert profile.journey_stage == "at_risk" and profile.churn_risk >= 67
    hesitation = _run(_contact({"occurred_at": "2026-05-25T09:00:00Z",
                                "body": "We may need to look at other options if this keeps happening."}))
    assert hesitation.journey_stage == "adoption"  # hesitation, not a stated intent (DESIGN.md §3)


def test_complaints_and_silence_alone_are_not_at_risk() -> None:
    profile = _run(_contact({"occurred_at": "2026-05-25T09:00:00Z",
                             "body": "The export is broken again and it is really frustrating."}))
    assert profile.journey_stage == "adoption" and profile.churn_reason == "product_defect"


def test_cancellation_form_means_churned_since_its_date() -> None:
    form = {"kind": "form", "occurred_at": "2026-05-10T08:00:00Z", "subject": "Cancellation request",
            "body": "Reason: too expensive for what we use.", "metadata": {"form_type": "cancellation"}}
    profile = _run(_contact(form, lifecycle="other"))  # HubSpot's "other" lifecycle plus a cancellation
    assert profile.journey_stage == "churned" and profile.churn_risk == 100
    assert profile.journey_stage_since == datetime(2026, 5, 10, 8, tzinfo=UTC)
    assert profile.churn_reason == "pricing_value"


def test_definite_cancellation_message_is_churned_a_threat_is_at_risk() -> None:
    done = _run(_contact({"occurred_at": "2026-05-10T08:00:00Z", "body": "Please cancel our subscription."}))
    threat = _run(_contact({"occurred_at": "2026-05-10T08:00:00Z",
                            "body": "If this is not fixed we will cancel our subscription."}))
    meeting = _run(_contact({"occurred_at": "2026-05-10T08:00:00Z", "body": "Can we cancel Thursday's call?"}))
    assert (done.journey_stage, threat.journey_stage, meeting.journey_stage) == ("churned", "at_risk", "adoption")


def test_a_purchase_after_the_cancellation_is_a_win_back() -> None:
    deals = ({"id": "d1", "stage": "closedwon", "created": "2024-01-05", "close_date": "2024-02-01"},
             {"id": "d2", "stage": "closedwon", "created": "2026-05-15", "close_date": "2026-05-20"})
    profile = _run(_contact({"occurred_at": "2026-05-10T08:00:00Z", "body": "Please cancel our subscription."},
                            deals=deals))
    assert profile.journey_stage != "churned"


def test_evangelist_is_advocacy_without_an_emotion_gate() -> None:
    profile = _run(_contact({"occurred_at": "2026-05-10T08:00:00Z", "body": "The new report is slow to load."},
                            lifecycle="evangelist"))
    assert profile.journey_stage == "advocacy" and profile.journey_stage_since is None


def test_contact_created_after_its_deals_keeps_the_deal_history() -> None:
    deals = ({"id": "d1", "stage": "contractsent", "created": "2026-04-01"},)
    profile = _run(_contact(lifecycle="opportunity", created="2026-05-20", deals=deals))
    assert profile.journey_stage == "purchase"
    assert profile.journey_stage_since == datetime(2026, 4, 1, tzinfo=UTC)


def test_first_purchase_week_then_onboarding_then_adoption() -> None:
    deals = ({"id": "d1", "stage": "closedwon", "created": "2026-05-01", "close_date": "2026-05-28"},)
    assert _run(_contact(deals=deals)).journey_stage == "purchase"  # closed won 4 days ago
    deals = ({"id": "d1", "stage": "closedwon", "created": "2026-02-01", "close_date": "2026-03-10"},)
    assert _run(_contact(deals=deals)).journey_stage == "onboarding"  # 83 days: still within 90
    deals = ({"id": "d1", "stage": "closedwon", "created": "2026-01-01", "close_date": "2026-02-20"},)
    assert _run(_contact(deals=deals)).journey_stage == "adoption"


def test_marketing_lead_asking_for_pricing_is_in_consideration() -> None:
    quiet = _run(_contact({"occurred_at": "2026-05-20T09:00:00Z", "body": "Thanks for the webinar, very useful."},
                          lifecycle="marketingqualifiedlead", deals=()))
    ask = {"occurred_at": "2026-05-20T09:00:00Z", "body": "Could you send me your pricing for 20 seats?"}
    asks = _run(_contact(ask, lifecycle="marketingqualifiedlead", deals=()))
    assert (quiet.journey_stage, asks.journey_stage) == ("awareness", "consideration")


def test_voicemails_are_absences_and_unanswered_outreach_is_disengagement() -> None:
    records = [{"occurred_at": f"2026-{day}T10:00:00Z", "body": "Quick question about the reports."}
               for day in ("01-05", "01-20", "02-03")]
    records += [{"kind": "call", "direction": "outbound", "author": "rep", "occurred_at": f"2026-{m}T10:00:00Z",
                 "subject": "Call", "body": "Left voicemail.", "metadata": {"outcome": "voicemail"}}
                for m in ("03-01", "03-20", "04-10")]
    records += [{"direction": "outbound", "author": "rep", "occurred_at": "2026-04-25T10:00:00Z",
                 "subject": "Checking in", "body": "Any news on your side?"}]
    profile = _run(_contact(*records))
    assert profile.churn_reason == "disengagement"
    assert "got no answer" in profile.churn_reason_detail
    assert profile.explanation["reason_evidence"][0]["source"] == "absence"


def test_ticket_category_and_closed_lost_reason_are_system_records() -> None:
    ticket = {"kind": "ticket", "direction": "internal", "author": "system", "occurred_at": "2026-05-20T10:00:00Z",
              "subject": "Case 5512", "metadata": {"status": "In Progress", "category": "Invoice dispute"}}
    profile = _run(_contact(ticket))
    assert profile.churn_reason == "billing_issue"
    assert "system record" in profile.churn_reason_detail
    assert profile.explanation["risk_signals"][0]["signal"] == "unresolved_cases"  # "In Progress" is open
    deals = ({"id": "d1", "stage": "closedwon", "created": "2024-01-05", "close_date": "2024-02-01"},
             {"id": "r1", "type": "renewal", "stage": "closedlost", "created": "2026-04-01",
              "close_date": "2026-05-01", "lost_reason": "Chose a competitor with a cheaper offer"})
    lost = _run(_contact(deals=deals))
    assert lost.journey_stage == "churned" and lost.churn_reason in ("competitor", "pricing_value")
    assert "closed-lost reason" in lost.churn_reason_detail


def test_services_taxonomy_and_an_admin_defined_reason(tmp_path: Path) -> None:
    services = config_from_mapping({"reasons": {"taxonomy": "services_commerce"}})
    message = {"occurred_at": "2026-05-28T09:00:00Z", "body": "My parcel still hasn't arrived, it's been two weeks."}
    assert _run(_contact(message), services).churn_reason == "delivery_problem"
    engine_toml = tmp_path / "engine.toml"
    engine_toml.write_text('''
[reasons]
taxonomy = "services_commerce"
[reasons.late_delivery]
label = "Late delivery"
description = "The order came, but after the promised date."
examples = ["It arrived three days after the date you promised.", "The delivery came a week late.",
            "You said Monday and it only came on Friday.", "It finally arrived, but far too late for the party.",
            "Late again: the parcel came days after the delivery window."]
cues = ["late", "after the promised date"]
''', encoding="utf-8")
    config = load_config(engine_toml)
    assert "late_delivery" in config.taxonomy.names
    late = {"occurred_at": "2026-05-28T09:00:00Z", "body": "The sofa finally came, but a full week late."}
    profile = _run(_contact(late), config)
    assert profile.churn_reason == "late_delivery"
    assert profile.churn_reason_detail.startswith("Late delivery.")


def test_without_the_sentence_model_the_engine_falls_back_to_cues() -> None:
    script = (
        "import json; from datetime import datetime, timezone;"
        "from cem_engine import analyze; from cem_engine.exchange import read_records;"
        "lines=[json.dumps(r) for r in ({'record':'contact','contact_id':'c','lifecycle_stage':'customer'},"
        "{'record':'interaction','contact_id':'c','id':'i','kind':'email','direction':'inbound',"
        "'occurred_at':'2026-05-28T09:00:00Z','body':'We were charged twice this month, please fix the invoice.'})];"
        "p=analyze(read_records(lines)[0], now=datetime(2026,6,1,tzinfo=timezone.utc));"
        "print(p.churn_reason, '|', p.explanation['reason_model'])"
    )
    env = {**os.environ, "CEM_ENGINE_MODEL": "off"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         cwd=ROOT, check=True).stdout
    assert out.startswith("billing_issue |") and "keyword cues only" in out


@pytest.mark.parametrize("taxonomy", ["b2b_software", "services_commerce"])
def test_every_reason_of_both_taxonomies_has_a_label_and_examples(taxonomy: str) -> None:
    config = config_from_mapping({"reasons": {"taxonomy": taxonomy}})
    assert config.taxonomy.names[-1] == "none" and len(config.taxonomy.names) == 11
    for reason in config.taxonomy.reasons.values():
        assert reason.label and len(reason.examples) >= 5


def test_plain_how_to_questions_in_onboarding_are_not_a_churn_reason() -> None:
    """A new customer asking how things work is onboarding going normally; only saying they are lost is a pain."""
    deals = ({"id": "d1", "stage": "closedwon", "created": "2026-04-01", "close_date": "2026-04-20"},)
    questions = ["How do I add a new user to the dashboard?", "Can you show me how to set up the Slack integration?",
                 "Quick question: where can I export the monthly report?"]
    asked = _run(_contact(*({"occurred_at": f"2026-05-{10 + n}T09:00:00Z", "body": q}
                            for n, q in enumerate(questions)), deals=deals))
    assert (asked.journey_stage, asked.churn_reason) == ("onboarding", "none")
    lost = _run(_contact({"occurred_at": "2026-05-12T09:00:00Z",
                          "body": "How do I even get started? Nothing in the setup makes sense to us."}, deals=deals))
    assert lost.churn_reason == "onboarding_confusion"
