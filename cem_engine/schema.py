"""The normalised interaction schema: what each CRM's records mean, in one vocabulary.

Adapters fill ``Interaction.metadata`` (and ``Deal.lost_reason``) with these keys so the engine reads a
HubSpot ticket, a Salesforce Case and a Dynamics incident alike. Values are normalised here as well, so a
raw CRM value ("Waiting on customer", "Resolved", "Left Voicemail") still lands on the right meaning.

| interaction kind | key | values |
|---|---|---|
| ticket | ``status`` | new, open, pending, escalated, solved, closed |
| ticket | ``priority`` | low, normal, high, urgent |
| ticket | ``category`` | free text (the CRM's case type / category / reason) |
| call | ``outcome`` | connected, no_answer, voicemail, busy, wrong_number |
| meeting | ``outcome`` | completed, no_show (a no-show is an absence, not a touch) |
| email | ``opened`` / ``replied`` | true / false (tracking data where the CRM has it) |
| form | ``form_type`` | cancellation, demo_request, contact, download, webinar, newsletter, referral, review, other |
| survey | ``nps`` (0..10), ``csat`` (1..5) | numbers |
"""

from __future__ import annotations

import re
from typing import Any

TICKET_STATUSES = ("new", "open", "pending", "escalated", "solved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
CALL_OUTCOMES = ("connected", "no_answer", "voicemail", "busy", "wrong_number")
FORM_TYPES = ("cancellation", "demo_request", "contact", "download", "webinar", "newsletter", "referral", "review",
              "other")
CLOSED_STATUSES = frozenset({"solved", "closed"})
NO_CONTACT_OUTCOMES = frozenset({"no_answer", "voicemail", "busy", "wrong_number"})

_STATUS_WORDS = {
    "new": "new", "open": "open", "in progress": "open", "in_progress": "open", "working": "open",
    "on hold": "pending", "on_hold": "pending", "hold": "pending", "pending": "pending",
    "waiting on customer": "pending", "waiting on contact": "pending", "waiting": "pending",
    "waiting_on_contact": "pending", "waiting_on_us": "open", "escalated": "escalated",
    "resolved": "solved", "solved": "solved", "done": "solved", "fixed": "solved", "problem solved": "solved",
    "closed": "closed", "cancelled": "closed", "canceled": "closed", "information provided": "solved",
}
_PRIORITY_WORDS = {
    "low": "low", "3": "low", "normal": "normal", "medium": "normal", "2": "normal", "high": "high", "1": "high",
    "urgent": "urgent", "critical": "urgent", "p1": "urgent", "emergency": "urgent",
}
_OUTCOME_WORDS = {
    "connected": "connected", "completed": "connected", "answered": "connected",
    "no answer": "no_answer", "no_answer": "no_answer", "noanswer": "no_answer", "not reached": "no_answer",
    "voicemail": "voicemail", "left voicemail": "voicemail", "left_voicemail": "voicemail", "left message": "voicemail",
    "left live message": "voicemail", "busy": "busy", "wrong number": "wrong_number", "wrong_number": "wrong_number",
}
_VOICEMAIL_TEXT = re.compile(r"\b(left (a )?(voice ?mail|vm|message)|no answer|didn'?t pick up|did not pick up"
                             r"|went to voice ?mail|not reached|unreachable|line busy)\b", re.IGNORECASE)
_CANCEL_TEXT = re.compile(
    r"\b(cancel|cancell?ation|terminat\w*|close (my|our) account|unsubscribe from (the )?service)", re.IGNORECASE)


def _word(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "").strip().lower())


def ticket_status(metadata: dict[str, Any]) -> str:
    """The normalised status; a ticket that says nothing is open."""
    raw = _word(metadata.get("status"))
    if not raw:
        return "open"
    return _STATUS_WORDS.get(raw, "closed" if "clos" in raw else "solved" if "resol" in raw else "open")


def ticket_priority(metadata: dict[str, Any], status: str) -> str:
    if status == "escalated":
        return "urgent"
    return _PRIORITY_WORDS.get(_word(metadata.get("priority")), "normal" if metadata.get("priority") else "")


def call_outcome(metadata: dict[str, Any], text: str) -> str:
    """The normalised outcome of a call; without one, a logged voicemail or 'no answer' says it."""
    raw = _word(metadata.get("outcome"))
    if raw:
        return _OUTCOME_WORDS.get(raw, "connected")
    return "voicemail" if _VOICEMAIL_TEXT.search(text[:400]) else "connected"


_NO_SHOW_TEXT = re.compile(
    r"\b(no[- ]show|did(?:n't| not) (?:show|attend|join)|never joined|no one (?:joined|showed))\b", re.IGNORECASE)


def meeting_no_show(metadata: dict[str, Any], text: str) -> bool:
    """A meeting the customer did not attend (HubSpot outcome NO_SHOW, or a note saying so) is an absence."""
    raw = _word(metadata.get("outcome"))
    if raw:
        return raw.replace("-", "_").replace(" ", "_") in ("no_show", "noshow")
    return bool(_NO_SHOW_TEXT.search(text[:400]))


def is_cancellation_form(metadata: dict[str, Any], subject: str) -> bool:
    kind = _word(metadata.get("form_type"))
    if kind:
        return kind == "cancellation"
    return bool(_CANCEL_TEXT.search(subject or ""))


def flag(metadata: dict[str, Any], key: str) -> bool | None:
    """A tracking flag (``opened``, ``replied``) as a bool, or None when the CRM does not say."""
    value = metadata.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    return None
