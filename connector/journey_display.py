"""What the journey map shows beyond the CEM fields: who the contact is and each interaction as a point.

Built at refresh time from the same ContactInput the engine read, stored beside the profile
(``ContactAnalysis.profile["display"]``) so the page never calls the CRM. Only the engine's public
``analyze`` is used: a message's own sentiment is the engine's score of that message alone. Quotes are
cut to QUOTE_CHARS (what the CRM's detail field shows anyway); `forget` deletes them with the row.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cem_engine import ContactFacts, ContactInput, Interaction, analyze

MAX_POINTS = 80  # the most recent interactions drawn on the curve
QUOTE_CHARS = 140
_TAGS = re.compile(r"<[^>]+>")


def build_display(data: ContactInput, config: Any, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The display record of one contact; sentiments already computed under the same config are reused."""
    fingerprint = str(getattr(config, "fingerprint", ""))
    known: dict[str, float | None] = {}
    if previous and previous.get("fingerprint") == fingerprint:
        known = {p["id"]: p.get("sentiment") for p in previous.get("timeline") or [] if "id" in p}
    recent = sorted(data.interactions, key=lambda i: _aware(i.occurred_at))[-MAX_POINTS:]
    facts = data.contact
    return {
        "fingerprint": fingerprint,
        "contact": {
            "name": facts.name, "email": facts.email, "company": facts.company, "owner": facts.owner,
        },
        "timeline": [_point(i, config, known) for i in recent],
    }


def _point(interaction: Interaction, config: Any, known: dict[str, float | None]) -> dict[str, Any]:
    author = interaction.effective_author
    point: dict[str, Any] = {
        "id": interaction.id, "kind": interaction.kind, "direction": interaction.direction, "author": author,
        "at": _aware(interaction.occurred_at).isoformat(),
        "subject": _short(interaction.subject, 100),
        "quote": _short(_words(interaction.body) or interaction.subject, QUOTE_CHARS),
    }
    if author == "customer":
        point["sentiment"] = known[interaction.id] if interaction.id in known else _sentiment(interaction, config)
    metadata = interaction.metadata or {}
    for key in ("nps", "csat", "status"):
        if metadata.get(key) not in (None, ""):
            point[key] = metadata[key]
    return point


def _sentiment(interaction: Interaction, config: Any) -> float:
    """The engine's emotion score of this one message, -100..100."""
    alone = ContactInput(contact=ContactFacts(contact_id=interaction.contact_id), interactions=(interaction,))
    return round(float(analyze(alone, now=_aware(interaction.occurred_at), config=config).emotion_score), 1)


def _words(body: str) -> str:
    """The message's own words: the engine's cleaner (no HTML, quoted thread, signature) when available."""
    try:
        from cem_engine.text import clean_text
    except ImportError:  # an engine without it: tags stripped is still readable
        return _TAGS.sub(" ", body or "")
    return clean_text(body or "", max_chars=2000)


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
