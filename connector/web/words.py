"""Codes as a rep reads them: stages, emotions, reasons, risk signals, channels, dates.

Every lookup falls back to a readable form of the code, so a new stage, reason or signal from the
engine still shows as words, never as `snake_case`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# The path a customer walks; at_risk and churned are off-path states shown only when reached.
STAGE_PATH = ("awareness", "consideration", "purchase", "onboarding", "adoption", "renewal", "advocacy")
STAGES = {
    "awareness": ("Awareness", "Knows us from marketing: forms, downloads, webinars, newsletters."),
    "consideration": ("Consideration", "In a sales conversation: open deal, trial or demo."),
    "purchase": ("Purchase", "Contract out or in negotiation, or just signed."),
    "onboarding": ("Onboarding", "First 90 days after the first deal was won."),
    "adoption": ("Adoption", "An established customer."),
    "renewal": ("Renewal", "Renewal deal open or renewal date within 90 days."),
    "advocacy": ("Advocacy", "Promotes us: referrals, reviews, high NPS."),
    "at_risk": ("At risk", "Has said they intend to leave."),
    "churned": ("Churned", "Cancelled, closed the account or did not renew."),
}
EMOTIONS = {
    "delighted": "Delighted", "satisfied": "Satisfied", "neutral": "Neutral", "anxious": "Anxious",
    "confused": "Confused", "frustrated": "Frustrated", "angry": "Angry", "disappointed": "Disappointed",
}
REASONS = {
    "onboarding_confusion": ("Onboarding confusion", "Struggled to get set up in the first weeks."),
    "poorly_timed_upsell": ("Poorly timed upsell", "Reacted badly to an offer made at the wrong moment."),
    "support_friction": ("Support friction", "Unhappy with how support handled their problems."),
    "product_defect": ("Product defect", "Reports bugs, outages or things that do not work."),
    "pricing_value": ("Price and value", "Questions whether the price is worth it."),
    "missing_feature": ("Missing feature", "Needs something the product does not do."),
    "competitor": ("Competitor", "Looking at or mentioning another vendor."),
    "billing_issue": ("Billing problem", "Invoices, charges or payments went wrong."),
    "disengagement": ("Gone quiet", "Used to be in touch regularly and has stopped."),
    "relationship": ("Relationship", "Unhappy with the people they deal with."),
    "none": ("No churn reason", "Nothing the customer said or did points to a reason to leave."),
}
SIGNALS = {
    "churned": "The CRM records this customer as lost",
    "negative_emotion": "Unhappy in recent messages",
    "falling_emotion": "Mood is getting worse",
    "unresolved_cases": "Support cases still open",
    "intent_to_leave": "Said they may leave",
    "gone_silent": "Has gone quiet",
    "renewal_soon": "Renewal coming up while not satisfied",
    "churn_reason": "An unresolved problem, with evidence",
    "no_stated_intent": "Held at medium: they have not said they will leave",
}
CHANNELS = {
    "email": "Email", "call": "Call", "note": "Note", "meeting": "Meeting", "ticket": "Support case",
    "chat": "Chat", "survey": "Survey", "form": "Form",
}
AUTHORS = {"customer": "Customer", "rep": "Your team", "system": "System"}
RISK_BANDS = (  # DESIGN.md §3: how reps read churn risk
    (67, "high", "High"), (34, "medium", "Medium"), (0, "low", "Low"),
)


def humanize(code: Any) -> str:
    text = str(code or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "Unknown"


def stage_label(code: Any) -> str:
    return STAGES.get(str(code), (humanize(code), ""))[0]


def stage_meaning(code: Any) -> str:
    return STAGES.get(str(code), ("", ""))[1]


def emotion_label(code: Any) -> str:
    return EMOTIONS.get(str(code), humanize(code))


ReasonWords = dict[str, tuple[str, str]]  # reason -> (label, description), from the engine's taxonomy


def reason_words(engine_config: Any) -> ReasonWords:
    """The configured taxonomy's labels and descriptions (admin-defined reasons included), if the engine has one."""
    reasons = getattr(getattr(engine_config, "taxonomy", None), "reasons", None) or {}
    return {name: (str(getattr(r, "label", "") or humanize(name)), str(getattr(r, "description", "") or ""))
            for name, r in reasons.items()}


def reason_label(code: Any, reasons: ReasonWords | None = None) -> str:
    if reasons and code in reasons:
        return reasons[code][0]
    return REASONS.get(str(code), (humanize(code), ""))[0]


def reason_meaning(code: Any, reasons: ReasonWords | None = None) -> str:
    if reasons and code in reasons and reasons[code][1]:
        return reasons[code][1]
    return REASONS.get(str(code), ("", ""))[1]


def signal_label(code: Any) -> str:
    return SIGNALS.get(str(code), humanize(code))


def channel_label(kind: Any) -> str:
    return CHANNELS.get(str(kind), humanize(kind))


def author_label(author: Any) -> str:
    return AUTHORS.get(str(author), humanize(author))


def risk_band(risk: Any) -> tuple[str, str]:
    """(css key, word) of the band a 0..100 risk falls in."""
    value = to_number(risk) or 0
    for floor, key, word in RISK_BANDS:
        if value >= floor:
            return key, word
    return "low", "Low"


def to_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_time(value: Any) -> datetime | None:
    """A stored timestamp (ISO text, epoch seconds or datetime) as an aware datetime; None if unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if not value:
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value: Any) -> str:
    """'3 Oct 2026'."""
    when = parse_time(value)
    return f"{when.day} {when:%b %Y}" if when else ""


def ago(value: Any, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', 'yesterday', '12 days ago', or the date."""
    when = parse_time(value)
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 0:
        return f"in {_span(-seconds)}"
    if seconds < 45:
        return "just now"
    if 86400 <= seconds < 2 * 86400:
        return "yesterday"
    if seconds > 60 * 86400:
        return day(when)
    return f"{_span(seconds)} ago"


def _span(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def stamp(value: Any) -> str:
    """'3 Oct 2026, 14:05 UTC' for tooltips next to a relative time."""
    when = parse_time(value)
    return f"{day(when)}, {when.astimezone(UTC):%H:%M} UTC" if when else ""


def signed(value: Any) -> str:
    """'+12', '-7', '0' (a zero has no sign)."""
    number = to_number(value)
    if number is None:
        return "–"
    return f"{round(number):+d}" if round(number) else "0"
