"""The view-models behind the journey map and the console: words not codes, and no crash on missing keys."""

from __future__ import annotations

from datetime import UTC, datetime

from cem_engine import ContactFacts, ContactInput, Interaction, load_config
from connector.journey_display import QUOTE_CHARS, build_display
from connector.web.console_view import console_model
from connector.web.journey_view import journey_model

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_an_empty_or_foreign_profile_still_makes_a_page() -> None:
    for profile in ({}, {"journey_stage": "galaxy_brain", "explanation": "not a dict", "display": []},
                    {"explanation": {"stage_history": [None, {"stage": "adoption"}], "risk_signals": [7]}}):
        model = journey_model(profile, "42", now=NOW)
        assert model["header"]["name"] == "Contact 42"
        assert model["chart"]["dots"] == []
    odd = journey_model({"journey_stage": "galaxy_brain", "churn_reason": "late_delivery"}, "1", now=NOW)
    assert odd["header"]["stage_label"] == "Galaxy brain" and odd["header"]["reason_label"] == "Late delivery"


def test_stage_path_shows_skipped_and_future_stages() -> None:
    profile = {"journey_stage": "onboarding", "journey_stage_since": "2026-10-01T00:00:00+00:00",
               "explanation": {"stage_history": [{"stage": "awareness", "since": "2026-08-01T00:00:00Z"},
                                                 {"stage": "onboarding", "since": "2026-10-01T00:00:00Z"}]}}
    states = {s["code"]: s["state"] for s in journey_model(profile, "1", now=NOW)["stages"]}
    assert states == {"awareness": "reached", "consideration": "skipped", "purchase": "skipped",
                      "onboarding": "current", "adoption": "future", "renewal": "future", "advocacy": "future"}


def test_points_signals_and_pains_in_words() -> None:
    profile = {
        "journey_stage": "adoption", "churn_risk": 70, "emotion_trend": -12, "emotion_score": -30,
        "explanation": {
            "risk_signals": [{"signal": "gone_silent", "points": 20, "detail": "no customer activity for 40 days"},
                             {"signal": "falling_emotion", "points": 0, "detail": "ignored: no points"}],
            "stage_emotions": {"adoption": {"pain_points": [
                {"topic": "pricing_value", "mentions": 2, "quote": "Too expensive."},
                {"topic": "competitor", "mentions": 1, "quote": "Too expensive."}]}},
            "reason_evidence": [{"interaction_id": "email:9", "kind": "email", "date": "2026-11-02",
                                 "quote": "Too expensive.", "why": "questions price"}]},
        "display": {"contact": {"name": "Ana Lima"}, "timeline": [
            {"id": "email:9", "kind": "email", "author": "customer", "at": "2026-11-02T10:00:00Z",
             "quote": "Too expensive.", "sentiment": -55.0},
            {"id": "call:3", "kind": "call", "author": "rep", "at": "2026-11-03T10:00:00Z",
             "quote": "Left a message"}]},
    }
    model = journey_model(profile, "1", link_for=lambda iid, kind: f"https://crm.example/{iid}", now=NOW)
    assert model["header"]["band_word"] == "High" and model["header"]["arrow"] == "↓"
    assert [s["label"] for s in model["signals"]] == ["Has gone quiet"]
    assert len(model["pains"]) == 1 and model["pains"][0]["topic"] == "Price and value"
    assert [d["cls"] for d in model["chart"]["dots"]] == ["neg", "team"]
    assert "“Too expensive.”" in model["chart"]["dots"][0]["title"]
    assert model["why"]["evidence"][0]["url"] == "https://crm.example/email:9"
    assert model["why"]["evidence"][0]["channel"] == "Email"


def test_display_record_reuses_sentiments_and_keeps_quotes_short() -> None:
    config = load_config(None)
    body = "I am really unhappy, the export keeps failing and nobody answers. " * 5
    message = Interaction(id="e1", contact_id="c", kind="email", direction="inbound",
                          occurred_at=datetime(2026, 11, 1, tzinfo=UTC), subject="Export", body=body)
    data = ContactInput(contact=ContactFacts(contact_id="c", name="Ana Lima"), interactions=(message,))
    first = build_display(data, config)
    point = first["timeline"][0]
    assert point["sentiment"] < -15 and len(point["quote"]) <= QUOTE_CHARS
    assert first["contact"]["name"] == "Ana Lima"
    first["timeline"][0]["sentiment"] = 12.5  # a value the engine would not give: proves reuse
    again = build_display(data, config, previous=first)
    assert again["timeline"][0]["sentiment"] == 12.5


def test_console_words_progress_and_advice() -> None:
    status = {"connections": [{"id": 1, "platform": "hubspot", "name": "eu", "contacts_analysed": 3,
                               "backfill": {"status": "running", "processed": 60, "total": None},
                               "api_calls_today": 900, "api_limits": {"daily": 1000}}],
              "queue": {"queued": 2}, "errors": [{"id": 5, "connection_id": 1, "job": "write", "attempts": 6,
                                                  "error": "AuthenticationError: token revoked",
                                                  "at": "2026-11-26T10:00:00+00:00"}]}
    model = console_model(status)
    c = model["connections"][0]
    assert c["label"] == "HubSpot · eu" and "?" not in c["backfill"]["text"] and "60 contacts" in c["backfill"]["text"]
    assert c["budget"]["percent"] == 90 and c["budget"]["cls"] == "bad"
    error = model["errors"][0]
    assert error["job"] == "writing fields" and "Reconnect" in error["advice"] and error["message"] == "token revoked"


def test_taxonomy_labels_and_capped_risk_read_right() -> None:
    from connector.web.words import reason_words

    words = reason_words(load_config(None))
    assert words["pricing_value"][0]  # the engine's taxonomy names every reason it can give
    profile = {"churn_reason": "late_delivery", "churn_risk": 66, "explanation": {"risk_signals": [
        {"signal": "negative_emotion", "points": 70, "detail": "emotion score -80 (angry)"},
        {"signal": "no_stated_intent", "points": -4, "detail": "high risk needs a stated intent to leave"}]}}
    model = journey_model(profile, "1", now=NOW, reasons={"late_delivery": ("Late delivery", "Orders arrive late.")})
    assert model["header"]["reason_label"] == "Late delivery" and model["why"]["meaning"] == "Orders arrive late."
    assert [s["text"] for s in model["signals"]] == ["+70", "-4"]
    assert model["signals"][1]["label"].startswith("Held at medium")
