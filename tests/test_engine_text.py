"""Text preparation and sentence scoring: only the customer's own words, read with the CS lexicon."""

from __future__ import annotations

from cem_engine.config import config_from_mapping, load_config
from cem_engine.sentiment import scorer_for
from cem_engine.text import clean_text, short_quote, split_sentences


def test_html_with_gmail_quote_signature_and_disclaimer() -> None:
    body = (
        "<html><body><div dir='ltr'><p>The export is broken again.</p><p>Best regards,<br>Ann Lee<br>CTO</p>"
        "<p style='font-size:8pt'>CONFIDENTIALITY NOTICE: This e-mail is confidential.</p>"
        "<div class='gmail_quote'><div>On Mon, Rep wrote:</div><blockquote>We are thrilled!</blockquote></div>"
        "</div></body></html>"
    )
    assert clean_text(body) == "The export is broken again."


def test_outlook_html_reply_header_ends_the_customer_text() -> None:
    body = "<div>Fine by me &amp; the team.</div><div id='divRplyFwdMsg'><b>From:</b> Rep</div><div>Old text</div>"
    assert clean_text(body) == "Fine by me & the team."


def test_plain_text_quotes_and_signatures() -> None:
    gmail = "Still broken.\n\nThanks,\nAnn\n\nOn Tue, 2 Jun 2026 at 10:00, Rep <r@x.example>\nwrote:\n> All fixed!"
    assert clean_text(gmail) == "Still broken."
    outlook = "Please call me.\n\n-----Original Message-----\nFrom: Rep\nSent: Monday\n\nGreat news!"
    assert clean_text(outlook) == "Please call me."
    dashes = "Works now.\n-- \nAnn Lee\nHead of Ops"
    assert clean_text(dashes) == "Works now."
    inline = "See below.\n> quoted line\nMy answer is no."
    assert clean_text(inline) == "See below.\nMy answer is no."
    mobile = "On my way.\n\nSent from my iPhone"
    assert clean_text(mobile) == "On my way."


def test_sign_off_inside_prose_is_kept() -> None:
    text = "Thanks\n" + "\n".join(f"Line {n} of a long answer." for n in range(12))
    assert "Line 11" in clean_text(text)


def test_sentences() -> None:
    assert split_sentences("Hi there. It crashed! Why? e.g. v2.1 works.\n- bullet one") == [
        "Hi there.", "It crashed!", "Why? e.g. v2.1 works.", "bullet one"]
    assert len(split_sentences(". ".join(["Word"] * 500), max_sentences=7)) == 7


def test_short_quote_cuts_on_a_word() -> None:
    assert short_quote("one two three four", 12) == "one two…"
    assert short_quote("short", 12) == "short"


def test_cs_phrases_and_negation() -> None:
    scorer = scorer_for(load_config())
    waiting = scorer.score("We are still waiting for an update on this ticket.")
    assert waiting.score < -0.3 and "frustrated" in waiting.emotions and "support_friction" in waiting.topics
    polite = scorer.score("Please send a corrected invoice.")  # polite filler must not make a complaint positive
    assert polite.score < 0 and "billing_issue" in polite.topics
    negated = scorer.score("The setup was not confusing at all.")
    assert "confused" not in negated.emotions
    assert scorer.score("We would not recommend you.").advocacy is False
    assert scorer.score("Happy to recommend you!").advocacy is True
    inner = scorer.score("Your product doesn't support SSO.")
    assert inner.topics == frozenset({"missing_feature"})  # "support" inside "doesn't support" is not support
    assert scorer.score("We plan to switch to Pipelyne.").intent is None  # no rival named in the defaults
    named = scorer_for(config_from_mapping({"reasons": {"competitor_names": ["Pipelyne"]}}))
    assert named.score("We plan to switch to Pipelyne.").intent == "switch to"
    assert scorer.score("Unlock 20% off with our Enterprise tier").offer
