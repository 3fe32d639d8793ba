"""The incremental per-contact state: running aggregates and bounded evidence.

Folding one interaction into the state costs the same whatever the history length: sums are exact
fixed-point integers (see ``decay``), evidence lists keep the top N entries under a total order, and
dedupe uses a set of 64-bit digests of interaction ids. Because every part is a sum, a count, a min/max
or a top-N under a total order, the state after a set of interactions does not depend on the order in
which they arrived, and a repeated interaction changes nothing.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from . import decay
from .config import EngineConfig
from .errors import StateError
from .model import ContactFacts, Deal, Interaction
from .sentiment import NEGATIVE_AT, POSITIVE_AT, SentenceScore, scorer_for
from .stages import Timeline, build_timeline
from .text import clean_text, short_quote, split_sentences

STATE_VERSION = 1
NEGATIVE_EMOTIONS = ("anxious", "confused", "frustrated", "angry", "disappointed")
_TWO_WAY_KINDS = frozenset({"call", "meeting"})  # happen with the customer whoever logged them
_QUOTE_STORE_CHARS = 300


def _digest(interaction_id: str) -> str:
    return hashlib.blake2b(interaction_id.encode("utf-8"), digest_size=8).hexdigest()


def _keep_top(items: list[list[Any]], item: list[Any], limit: int) -> None:
    """Insert and keep the ``limit`` newest entries; entries start with [ts, interaction_id, ...]."""
    items.append(item)
    items.sort(key=lambda e: (-e[0], *map(str, e[1:])))
    del items[limit:]


@dataclass
class ContactState:
    """Everything the engine remembers about one contact between interactions (JSON-serialisable)."""

    contact: ContactFacts
    deals: tuple[Deal, ...]
    config: EngineConfig
    timeline: Timeline
    seen: set[str] = field(default_factory=set)
    seen_heap: list[tuple[float, str]] = field(default_factory=list)
    horizon: float | None = None  # interactions older than this were forgotten by the dedupe cap
    interactions: int = 0
    customer_messages: int = 0
    latest: float | None = None
    emo_w: int = 0          # decayed sum of weights
    emo_ws: int = 0         # decayed sum of weight x score
    emo_days: dict[int, list[int]] = field(default_factory=dict)  # day -> [w, ws] for the most recent days
    cue_sums: dict[str, int] = field(default_factory=dict)        # emotion -> decayed cue count
    cue_hits: list[list[Any]] = field(default_factory=list)       # [ts, iid, kind, emotion, cues, quote]
    # [ts, iid, kind, subject, quote, score, topics, intent] of negative (or intent-bearing) sentences
    negatives: list[list[Any]] = field(default_factory=list)
    intents: list[list[Any]] = field(default_factory=list)        # [ts, iid, kind, phrase, quote]
    tickets: list[list[Any]] = field(default_factory=list)        # [ts, iid, subject, status, priority]
    offers: list[list[Any]] = field(default_factory=list)         # [ts, iid, subject]
    advocacy: list[list[Any]] = field(default_factory=list)       # [ts, iid, kind, quote]
    activity: list[list[Any]] = field(default_factory=list)       # [ts, iid, kind, quote]
    activity_count: int = 0
    survey: list[Any] | None = None                               # [ts, iid, nps, csat] of the latest answer
    stage_stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form; big integers are hex strings so any JSON store keeps them exact."""
        contact = self.contact
        return {
            "version": STATE_VERSION,
            "config": self.config.fingerprint,
            "contact": {
                "contact_id": contact.contact_id, "lifecycle_stage": contact.lifecycle_stage,
                "renewal_date": contact.renewal_date.isoformat() if contact.renewal_date else None,
                "created_at": contact.created_at.isoformat() if contact.created_at else None,
                "email": contact.email, "name": contact.name,
            },
            "deals": [_deal_to_dict(d) for d in self.deals],
            "seen": sorted([ts, digest] for ts, digest in self.seen_heap),
            "horizon": self.horizon,
            "interactions": self.interactions,
            "customer_messages": self.customer_messages,
            "latest": self.latest,
            "emo_w": hex(self.emo_w), "emo_ws": hex(self.emo_ws),
            "emo_days": {str(k): [hex(w), hex(ws)] for k, (w, ws) in sorted(self.emo_days.items())},
            "cue_sums": {k: hex(v) for k, v in sorted(self.cue_sums.items())},
            "cue_hits": self.cue_hits, "negatives": self.negatives, "intents": self.intents,
            "tickets": self.tickets, "offers": self.offers, "advocacy": self.advocacy,
            "activity": self.activity, "activity_count": self.activity_count, "survey": self.survey,
            "stage_stats": self.stage_stats,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: EngineConfig | None = None) -> ContactState:
        """Rebuild a state saved by ``to_dict``; it must have been built with the same engine config."""
        from .config import default_config

        config = config or default_config()
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"unsupported state version {data.get('version') if isinstance(data, dict) else None!r}")
        if data.get("config") != config.fingerprint:
            raise StateError("state was built with a different engine config; rebuild it with analyze()")
        try:
            c = data["contact"]
            contact = ContactFacts(
                contact_id=c["contact_id"], lifecycle_stage=c["lifecycle_stage"],
                renewal_date=date.fromisoformat(c["renewal_date"]) if c["renewal_date"] else None,
                created_at=datetime.fromisoformat(c["created_at"]) if c["created_at"] else None,
                email=c["email"], name=c["name"],
            )
            deals = tuple(_deal_from_dict(d) for d in data["deals"])
            state = new_state(contact, deals, config)
            state.seen_heap = [(float(ts), str(d)) for ts, d in data["seen"]]
            heapq.heapify(state.seen_heap)
            state.seen = {d for _, d in state.seen_heap}
            state.horizon = data["horizon"]
            state.interactions = int(data["interactions"])
            state.customer_messages = int(data["customer_messages"])
            state.latest = data["latest"]
            state.emo_w, state.emo_ws = int(data["emo_w"], 16), int(data["emo_ws"], 16)
            state.emo_days = {int(k): [int(w, 16), int(ws, 16)] for k, (w, ws) in data["emo_days"].items()}
            state.cue_sums = {k: int(v, 16) for k, v in data["cue_sums"].items()}
            for name in ("cue_hits", "negatives", "intents", "tickets", "offers", "advocacy", "activity"):
                setattr(state, name, [list(e) for e in data[name]])
            state.activity_count = int(data["activity_count"])
            state.survey = data["survey"]
            state.stage_stats = data["stage_stats"]
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"corrupt contact state: {exc!r}") from exc
        return state


def _deal_to_dict(deal: Deal) -> dict[str, Any]:
    def d(value: date | datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {"id": deal.id, "contact_id": deal.contact_id, "stage": deal.stage, "type": deal.type, "name": deal.name,
            "amount": deal.amount, "created": d(deal.created), "close_date": d(deal.close_date)}


def _parse_when(value: str | None) -> date | datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _deal_from_dict(data: dict[str, Any]) -> Deal:
    return Deal(id=data["id"], contact_id=data["contact_id"], stage=data["stage"], type=data["type"],
                name=data["name"], amount=data["amount"], created=_parse_when(data["created"]),
                close_date=_parse_when(data["close_date"]))


def new_state(contact: ContactFacts, deals: Sequence[Deal] = (), config: EngineConfig | None = None) -> ContactState:
    """An empty state for one contact, given what the CRM knows apart from interactions."""
    from .config import default_config

    config = config or default_config()
    deals = tuple(sorted(deals, key=lambda d: d.id))
    return ContactState(contact=contact, deals=deals, config=config, timeline=build_timeline(contact, deals, config))


# -- folding one interaction in ----------------------------------------------------------------

def _survey_value(metadata: dict[str, Any], config: EngineConfig) -> tuple[float | None, int | None, int | None]:
    """Survey answers mapped onto -100..100: NPS 0..10 and CSAT 1..5 through the configured scales."""
    def as_int(value: Any, low: int, high: int) -> int | None:
        try:
            number = round(float(value))
        except (TypeError, ValueError):
            return None
        return number if low <= number <= high else None

    nps = as_int(metadata.get("nps"), 0, 10)
    csat = as_int(metadata.get("csat"), 1, 5)
    values = []
    if nps is not None:
        values.append(config.emotion.nps_scale[nps])
    if csat is not None:
        values.append(config.emotion.csat_scale[csat - 1])
    return (sum(values) / len(values) if values else None), nps, csat


def _score_text(interaction: Interaction, config: EngineConfig) -> list[SentenceScore]:
    limits = config.limits
    text = clean_text(interaction.body, max_chars=limits.max_text_chars)
    sentences = split_sentences(text, max_sentences=limits.max_sentences)
    if interaction.kind == "ticket" and interaction.subject:
        sentences.insert(0, interaction.subject.strip())  # a ticket's subject is the customer's own summary
    scorer = scorer_for(config)
    return [scorer.score(s) for s in sentences]


def update(state: ContactState, interaction: Interaction) -> ContactState:
    """Fold one interaction into ``state`` (in place) and return it. Repeated ids change nothing."""
    config = state.config
    occurred = interaction.occurred_at
    ts = (occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)).timestamp()  # naive means UTC
    digest = _digest(interaction.id)
    if digest in state.seen or (state.horizon is not None and ts < state.horizon):
        return state
    state.seen.add(digest)
    heapq.heappush(state.seen_heap, (ts, digest))
    if len(state.seen_heap) > config.limits.seen_ids:
        old_ts, old = heapq.heappop(state.seen_heap)
        state.seen.discard(old)
        state.horizon = old_ts if state.horizon is None else max(state.horizon, old_ts)
    state.interactions += 1
    state.latest = ts if state.latest is None else max(state.latest, ts)
    iid, kind = interaction.id, interaction.kind
    items = config.limits.recent_items
    customer = interaction.effective_author == "customer"

    if kind == "ticket":  # a case is a case whoever logged it; its status says whether it is still open
        meta = interaction.metadata or {}
        status = str(meta.get("status", "open")).strip().lower() or "open"
        priority = "escalated" if status == "escalated" else str(meta.get("priority", "")).strip().lower()
        _keep_top(state.tickets, [ts, iid, interaction.subject[:120], status, priority], items)
    if customer or kind in _TWO_WAY_KINDS:
        state.activity_count += 1
    if not customer:
        if interaction.direction == "outbound":
            _note_offer(state, interaction, ts)
        if kind in _TWO_WAY_KINDS:
            _keep_top(state.activity, [ts, iid, kind, short_quote(interaction.subject, 120)],
                      config.silence.cadence_sample + 1)
        return state  # rep-authored text never counts as the customer's feeling

    state.customer_messages += 1
    sentences = _score_text(interaction, config)
    first_words = next((s.text for s in sentences), interaction.subject)
    _keep_top(state.activity, [ts, iid, kind, short_quote(first_words, 120)], config.silence.cadence_sample + 1)
    survey, nps, csat = _survey_value(interaction.metadata or {}, config)
    if nps is not None or csat is not None:
        if state.survey is None or (ts, iid) > (state.survey[0], state.survey[1]):
            state.survey = [ts, iid, nps, csat]
        if nps is not None and nps >= config.advocacy.min_nps:
            _keep_top(state.advocacy, [ts, iid, kind, f"NPS {nps}"], items)
    value, weight = _message_value(sentences, survey, config)
    day = ts / decay.SECONDS_PER_DAY
    half_life = config.emotion.half_life_days
    if weight:
        w, ws = decay.term(weight, day, half_life), decay.term(weight * value, day, half_life)
        state.emo_w += w
        state.emo_ws += ws
        bucket = state.emo_days.setdefault(int(day), [0, 0])
        bucket[0] += w
        bucket[1] += ws
        if len(state.emo_days) > config.emotion.trend_days * 2 + 4:
            del state.emo_days[min(state.emo_days)]  # only the most recent days are needed for the trend
    _note_sentences(state, interaction, sentences, ts, day)
    _note_stage(state, ts, value if weight else None, sentences)
    return state


def _message_value(sentences: list[SentenceScore], survey: float | None, config: EngineConfig) -> tuple[float, float]:
    """(score -100..100, weight) of one customer message; weight 0 when there is nothing to read."""
    opinions = [s.score for s in sentences if s.score <= NEGATIVE_AT or s.score >= POSITIVE_AT]
    text = sum(opinions) / len(opinions) * 100.0 if opinions else None
    emotion = config.emotion
    if survey is not None and text is not None:
        return 0.6 * survey + 0.4 * text, emotion.survey_weight
    if survey is not None:
        return survey, emotion.survey_weight
    if text is not None:
        return text, 1.0
    return 0.0, emotion.neutral_message_weight if sentences else 0.0


def _note_offer(state: ContactState, interaction: Interaction, ts: float) -> None:
    text = clean_text(f"{interaction.subject}\n{interaction.body}", max_chars=2000)
    if scorer_for(state.config).mentions_offer(text):
        _keep_top(state.offers, [ts, interaction.id, interaction.subject[:120]], state.config.limits.recent_items)


def _note_sentences(state: ContactState, interaction: Interaction, sentences: list[SentenceScore],
                    ts: float, day: float) -> None:
    config = state.config
    iid, kind = interaction.id, interaction.kind
    subject = interaction.subject[:120]
    half_life = config.emotion.half_life_days
    for s in sentences:
        quote = short_quote(s.text, _QUOTE_STORE_CHARS)
        negative = s.score <= NEGATIVE_AT
        felt = [e for e in s.emotions if (e in NEGATIVE_EMOTIONS) == negative] if negative or s.score >= POSITIVE_AT \
            else []
        for emotion in sorted(set(felt)):
            state.cue_sums[emotion] = state.cue_sums.get(emotion, 0) + decay.term(felt.count(emotion), day, half_life)
        if felt:
            _keep_top(state.cue_hits, [ts, iid, kind, ",".join(sorted(set(felt))), ", ".join(s.cue_words), quote], 12)
        if negative or s.intent:
            _keep_top(state.negatives, [ts, iid, kind, subject, quote, round(s.score, 4), sorted(s.topics), s.intent],
                      config.limits.recent_negatives)
        if s.intent:
            _keep_top(state.intents, [ts, iid, kind, s.intent, quote], config.limits.recent_items)
        if s.advocacy and s.score >= POSITIVE_AT:
            _keep_top(state.advocacy, [ts, iid, kind, quote], config.limits.recent_items)


def _note_stage(state: ContactState, ts: float, value: float | None, sentences: list[SentenceScore]) -> None:
    """Per-stage emotion and pain points, for the journey map."""
    stage = state.timeline.stage_at(ts)
    stats = state.stage_stats.setdefault(stage, {"n": 0, "sum": 0, "pain": {}})
    if value is not None:
        stats["n"] += 1
        stats["sum"] += round(value * 1000)
    for s in sentences:
        if s.score > NEGATIVE_AT:
            continue
        for topic in sorted(s.topics):
            pain = stats["pain"].setdefault(topic, [0, None])
            pain[0] += 1
            candidate = [round(s.score, 4), -ts, short_quote(s.text, _QUOTE_STORE_CHARS)]
            if pain[1] is None or candidate < pain[1]:
                pain[1] = candidate  # the most negative sentence is the example shown

