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
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from . import decay, schema
from .caseless import Caseless
from .classify import Reading, classifier_for
from .config import EngineConfig
from .embedding import load_model
from .errors import StateError
from .memo import memo_for
from .model import EMOTIONS, ContactFacts, Deal, Interaction
from .polarity import read_layers
from .sentiment import NEGATIVE_AT, POSITIVE_AT, SentenceScore, scorer_for
from .stages import Timeline, build_timeline
from .text import clean_text, short_quote, split_sentences

STATE_VERSION = 2
NEGATIVE_EMOTIONS = ("anxious", "confused", "frustrated", "angry", "disappointed")
_TWO_WAY_KINDS = frozenset({"call", "meeting"})  # happen with the customer whoever logged them (unless unanswered)
_REP_NOTE_KINDS = frozenset({"call", "meeting", "note"})
# A calm complaint is still a complaint: a sentence about a problem reads at least this negative.
_COMPLAINT_FLOOR = -0.3
_QUESTION_FLOOR = -0.15
_CLEARLY_POSITIVE = 0.3
_REQUEST_FORM = Caseless(r"\s*(?:please|kindly|could you|can you|would you|can we|could we|i'd like|we'd like"
                           r"|i would like|we would like|may i|may we)\b")
_REQUEST_DEAD_ZONE = 0.25
# A system record that the customer's subscription ended (churned from that date).
_TERMINATED = Caseless(
    r"\b(?:subscription|account|contract|membership|service|plan|agreement|policy)\b[^.;]{0,40}?"
    r"\b(?:terminated|cancell?ed|closed|lapsed|ended|expired|not renewed)\b"
    r"|\b(?:terminated|cancell?ed|lapsed|expired)\b[^.;]{0,20}?\b(?:subscription|account|contract|membership)\b")
_REASON_FIELD = Caseless(r"\b(?:reason|lost reason|cancellation reason|loss reason|category)\s*[:=-]")
_MIN_WORDS = 4
_RIVAL_MOVE = Caseless(r"\b(?:trial\w*|pilot|signed with|switch\w*|mov(?:e|ing)\b[^.]{0,25}\bto|going with|went with"
                         r"|chose|chosen|quoted|offered|cheaper|less|evaluat\w*|compar\w*|consolidat\w*|demo)\b")
# "Thanks for sorting the double charge so fast": a problem put right is praise, not a complaint
_RESOLVED = Caseless(r"\b(?:sorted|sorting|fixed|fixing|resolved|resolving|solved|works now|working again"
                       r"|back to normal|all good|all correct|went through cleanly)\b")
_UNRESOLVED = Caseless(r"\b(?:not|no|never|still|yet|isn't|wasn't|hasn't|haven't|didn't|won't|unless|if|again)\b"
                         r"|n't\b|\?")
_ALL_WELL = Caseless(r"\b(?:no (?:issues|problems|complaints)|(?:works|working|running) (?:well|great|fine|smoothly)"
                       r"|nothing to report|no news is good news)\b")
_RESOLVED_FLOOR = 0.35
_LEAN = -0.2
# A prospect asking about buying: pricing, a quote, a demo, a trial, a comparison (a sales conversation)
_EVALUATING = Caseless(r"\b(?:pricing|price|prices|quote|discount|demo|trial|proposal|compar\w+|evaluat\w+"
                         r"|how much|licen[cs]es?|seats?)\b")
_COURTESY = Caseless(r"\b(?:thanks|thank you|thx|cheers|appreciate\w*|grateful|hope|have a (?:nice|good|great)"
                       r"|hi|hello|dear|regards|sorry|apologies)\b")
_COURTESY_WORDS = 10
_CONTRAST = Caseless(r"\b(?:but|however|though|although)\b")
# Words that turn a sentence about a topic into a report of a problem ("the import took ten minutes" is not).
_PROBLEM = Caseless(
    r"\b(?:not|no|never|none|nothing|nobody|still|yet|again|wrong|problem|problems|issue|issues|error|errors|fail\w*"
    r"|can't|cannot|couldn't|unable|without|missing|lost|late|delayed|why|where is|where's|haven't|hasn't|didn't"
    r"|doesn't|don't|isn't|aren't|won't|wasn't|broken|stuck|only|too|instead|twice|unfortunately|but|however"
    r"|when will|how long|is there a way|supposed to|should have|need|needs|keep|keeps|stopped|declined|blocked"
    r"|locked|forgot|unhappy|disappointed|complain\w*|charged|refund\w*|cancel\w*|other|another|elsewhere"
    r"|cheaper|expensive|rude|increase|increased|higher|more than|budget)\b")
# Reported speech in what a rep logged: only these sentences are the customer's words, second hand.
_REPORTED = Caseless(
    r"\b(?:she|he|they|customer|client|contact|buyer|their team|the team)\b[^.;]{0,30}?\b(?:said|says|mentioned|told"
    r"|complained|complains|explained|asked|asks|wants|wanted|stated|noted|raised|reported|threatened|confirmed"
    r"|indicated|called to|is unhappy|are unhappy|is frustrated|are frustrated|feels|feel|thinks|think)\b"
    r"|\b(?:she|he|they)(?:'s|'re| is| are| will| have| has| were| was)\b"
    r"|\baccording to\b|\bper (?:the )?(?:customer|client)\b")
_NAMED_SPEAKER = re.compile(r"\b[A-Z][a-z]+ (?:said|says|mentioned|told|complained|asked|wants|wanted|called to"
                            r"|threatened|confirmed|raised|is unhappy|is frustrated)\b")
_QUOTE_STORE_CHARS = 300
_MESSAGES: dict[str, Any] = {}  # per engine config: the memo of whole messages read
_MEMO_MESSAGES = 4096


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
    # [ts, iid, kind, subject, quote, score, topics, intent, source, margin, cue] of complaint or intent sentences;
    # source: "customer", "rep note" (what the rep logged the customer said) or "system" (ticket category)
    negatives: list[list[Any]] = field(default_factory=list)
    intents: list[list[Any]] = field(default_factory=list)        # [ts, iid, kind, phrase, quote, source]
    cancellations: list[list[Any]] = field(default_factory=list)  # [ts, iid, kind, source, quote]
    outreach: list[list[Any]] = field(default_factory=list)       # [ts, iid, kind, subject] outbound without answer
    praise: list[list[Any]] = field(default_factory=list)         # [ts, iid, reason] praise of a reason's topic
    evaluating: list[list[Any]] = field(default_factory=list)     # [ts, iid, kind, quote] pricing / demo / trial asks
    system: list[list[Any]] = field(default_factory=list)         # [ts, id, kind, quote, reason, margin] from deals
    tickets: list[list[Any]] = field(default_factory=list)        # [ts, iid, subject, status, priority, category]
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
            "cancellations": self.cancellations, "outreach": self.outreach, "praise": self.praise,
            "evaluating": self.evaluating,
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
            for name in ("cue_hits", "negatives", "intents", "cancellations", "outreach", "praise", "evaluating",
                         "tickets", "offers",
                         "advocacy", "activity"):
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
            "amount": deal.amount, "created": d(deal.created), "close_date": d(deal.close_date),
            "lost_reason": deal.lost_reason}


def _parse_when(value: str | None) -> date | datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _deal_from_dict(data: dict[str, Any]) -> Deal:
    return Deal(id=data["id"], contact_id=data["contact_id"], stage=data["stage"], type=data["type"],
                name=data["name"], amount=data["amount"], created=_parse_when(data["created"]),
                close_date=_parse_when(data["close_date"]), lost_reason=data.get("lost_reason") or "")


def new_state(contact: ContactFacts, deals: Sequence[Deal] = (), config: EngineConfig | None = None) -> ContactState:
    """An empty state for one contact, given what the CRM knows apart from interactions."""
    from .config import default_config

    config = config or default_config()
    deals = tuple(sorted(deals, key=lambda d: d.id))
    state = ContactState(contact=contact, deals=deals, config=config, timeline=build_timeline(contact, deals, config))
    _note_lost_reasons(state)
    return state


def _note_lost_reasons(state: ContactState) -> None:
    """A closed-lost deal's reason is a system record of why the customer left (or did not buy)."""
    lost = [d for d in state.deals if d.stage == "closedlost" and d.lost_reason.strip()]
    if not lost:
        return
    texts = [short_quote(d.lost_reason, _QUOTE_STORE_CHARS) for d in lost]
    scorer = scorer_for(state.config)
    readings = classifier_for(state.config).read(texts, [scorer.score(t).topics for t in texts])
    for deal, text, reading in zip(lost, texts, readings, strict=True):
        when = deal.close_date or deal.created
        if reading.reason == "none" or when is None:
            continue
        ts = (when if isinstance(when, datetime) else datetime.combine(when, datetime.min.time(), tzinfo=UTC))
        ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
        state.system.append([ts.timestamp(), deal.id, "deal", text, reading.reason, round(reading.margin, 4)])


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


def _read_message(interaction: Interaction, config: EngineConfig) -> tuple[list[SentenceScore], list[Reading]]:
    """The customer's sentences, scored (VADER, cues, the learned layers) and read for a reason."""
    limits = config.limits
    text = clean_text(interaction.body, max_chars=limits.max_text_chars)
    sentences = split_sentences(text, max_sentences=limits.max_sentences)
    if interaction.kind == "ticket" and interaction.subject:
        sentences.insert(0, interaction.subject.strip())  # a ticket's subject is the customer's own summary
    if not sentences:
        return [], []
    # The same sentences always give the same result: a message seen before is not read again. The key is the
    # whole list because the layers' matrix products round differently with the number of rows.
    key = tuple(sentences)
    memo = memo_for(_MESSAGES, config.fingerprint, _MEMO_MESSAGES)
    found = memo.get(key)
    if found is None:
        found = _read_sentences(sentences, config)
        memo.put(key, found, sum(len(s) for s in sentences))
    scores, readings = found
    return list(scores), list(readings)


def _read_sentences(sentences: list[str], config: EngineConfig) -> tuple[tuple[SentenceScore, ...],
                                                                          tuple[Reading, ...]]:
    scorer = scorer_for(config)
    scores = [scorer.score(s) for s in sentences]
    model = load_model()
    embeddings = model.embed(sentences) if model is not None else None  # the reason reader and the layers share them
    weight = config.emotion.model_weight
    layers = read_layers(embeddings, [s.vader for s in scores]) if embeddings is not None and weight > 0 else None
    if layers is not None:
        # VADER blended with the learned reading of how things are said; where a customer-service phrase or an
        # added lexicon word spoke ("hard to justify", "refund") the lexicon knows better than a model trained
        # on reviews
        scores = [replace(s, feelings=f) if s.valence or s.lexicon else
                  replace(s, feelings=f, score=_blend(s.score, _request_lean(s.text, p), weight))
                  for s, p, f in zip(scores, *layers, strict=True)]
    readings = classifier_for(config).read(sentences, [s.topics for s in scores], embeddings)
    return tuple(scores), tuple(readings)


def _blend(vader: float, learned: float, weight: float) -> float:
    return max(-1.0, min(1.0, (1 - weight) * vader + weight * learned))


def _request_lean(sentence: str, lean: float) -> float:
    """A plain request ("Please update our billing address") is not a feeling: the layer's small lean on it is
    noise, so it is cut by a dead zone; a request that reports a problem keeps its full reading."""
    if not _REQUEST_FORM.match(sentence) or _PROBLEM.search(sentence):
        return lean
    return max(0.0, abs(lean) - _REQUEST_DEAD_ZONE) * (1 if lean > 0 else -1)


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
    meta = interaction.metadata or {}
    author = interaction.effective_author
    customer = author == "customer"

    if kind == "ticket":  # a case is a case whoever logged it; its status says whether it is still open
        status = schema.ticket_status(meta)
        category = str(meta.get("category") or "").strip()[:80]
        _keep_top(state.tickets, [ts, iid, interaction.subject[:120], status, schema.ticket_priority(meta, status),
                                  category], items)
    if kind == "form" and schema.is_cancellation_form(meta, interaction.subject):
        quote = short_quote(interaction.subject or clean_text(interaction.body, max_chars=400), 120)
        _keep_top(state.cancellations, [ts, iid, kind, "cancellation form", quote], items)
    # A voicemail or an unanswered call is an absence of the customer, not a touch.
    no_contact = (kind == "call" and schema.call_outcome(
        meta, f"{interaction.subject} {interaction.body}") in schema.NO_CONTACT_OUTCOMES) or (
        kind == "meeting" and schema.meeting_no_show(meta, f"{interaction.subject} {interaction.body}"))
    two_way = kind in _TWO_WAY_KINDS and not no_contact
    if customer or two_way:
        state.activity_count += 1
    if not customer:
        if interaction.direction == "outbound":
            _note_offer(state, interaction, ts)
            if (kind == "email" or no_contact) and schema.flag(meta, "replied") is not True:
                _keep_top(state.outreach, [ts, iid, kind, short_quote(interaction.subject or interaction.body, 120)],
                          items)
        if two_way:
            _keep_top(state.activity, [ts, iid, kind, short_quote(interaction.subject, 120)],
                      config.silence.cadence_sample + 1)
        if author == "rep" and kind in _REP_NOTE_KINDS:
            _note_rep_note(state, interaction, ts)
        if author == "system" and kind in ("note", "form", "email"):
            _note_system_record(state, interaction, ts)
        if kind == "ticket":
            _note_ticket_category(state, interaction, ts)
        return state  # rep-authored and system text never counts as the customer's feeling

    state.customer_messages += 1
    sentences, readings = _read_message(interaction, config)
    asks = next((s.text for s in sentences if _EVALUATING.search(s.text)), None)
    if asks is not None or (kind == "form" and str(meta.get("form_type", "")).lower() == "demo_request"):
        _keep_top(state.evaluating, [ts, iid, kind, short_quote(asks or interaction.subject, 120)], items)
    felt = [_felt_score(s, r) for s, r in zip(sentences, readings, strict=True)]
    first_words = next((s.text for s in sentences), interaction.subject)
    _keep_top(state.activity, [ts, iid, kind, short_quote(first_words, 120)], config.silence.cadence_sample + 1)
    survey, nps, csat = _survey_value(meta, config)
    if nps is not None or csat is not None:
        if state.survey is None or (ts, iid) > (state.survey[0], state.survey[1]):
            state.survey = [ts, iid, nps, csat]
        if nps is not None and nps >= config.advocacy.min_nps:
            _keep_top(state.advocacy, [ts, iid, kind, f"NPS {nps}"], items)
    value, weight = _message_value(_without_courtesy(sentences, felt), survey, config)
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
    # a promoter's survey comment ("can't imagine working without it") is praise, not a complaint
    promoter = (nps is not None and nps >= config.advocacy.min_nps) or (csat is not None and csat >= 4)
    _note_sentences(state, interaction, sentences, readings, felt, ts, day, "customer", promoter=promoter)
    _note_stage(state, ts, value if weight else None, sentences, felt)
    return state


def _felt_score(sentence: SentenceScore, reading: Reading) -> float:
    """The sentence's feeling, with calm complaints read as (mildly) negative.

    Customer-service prose is polite ("please", "thanks", "could you help"): a sentence that reports a problem
    in the reason's own words ("my refund still hasn't arrived") is a complaint by what it says, even when its
    words are not negative. Without such a cue, closeness to a reason alone does not colour the feeling.
    """
    score = sentence.score
    if _put_right(sentence.text):
        return max(score, _RESOLVED_FLOOR)  # "that fixed it", "all correct this time": relief, not a gripe
    if score >= POSITIVE_AT or not reading.cue or not _is_complaint(sentence, reading):
        return score  # a complaint said with positive words keeps them: the words are the feeling
    floor = _QUESTION_FLOOR if sentence.text.rstrip().endswith("?") else _COMPLAINT_FLOOR
    return min(score, floor)


def _put_right(text: str) -> bool:
    """A problem reported as solved, or no problem at all ("works well, no issues"), without a "not", "still"
    or "but" that says otherwise."""
    if _CONTRAST.search(text):
        return False
    return bool(_ALL_WELL.search(text)) or (bool(_RESOLVED.search(text)) and not _UNRESOLVED.search(text))


def _is_complaint(sentence: SentenceScore, reading: Reading) -> bool:
    """Whether a sentence reports a problem of some reason: by what it says, not only by its polarity."""
    if reading.reason == "none" or (not reading.cue and len(sentence.text.split()) < _MIN_WORDS):
        return False  # "Disappointing." says how the customer feels, not what about
    if _put_right(sentence.text):
        return False
    problem = bool(_PROBLEM.search(sentence.text))
    # negative by VADER, or clearly negative by the learned layer; its slight lean on a plain statement
    # ("Rolled out to the second team today") is not a complaint
    if sentence.score <= NEGATIVE_AT and (sentence.vader[0] < 0 or sentence.score <= _LEAN or problem):
        return True
    if reading.reason == "competitor" and (reading.cue or _RIVAL_MOVE.search(sentence.text)):
        return True  # "we've signed with X", "another provider quoted us less": a rival is news in any tone
    if sentence.score >= _CLEARLY_POSITIVE:  # praise is not a complaint, unless a "but" or the reason's own words
        return problem and (reading.cue or bool(_CONTRAST.search(sentence.text)))
    return problem


def _without_courtesy(sentences: list[SentenceScore], felt: list[float]) -> list[float]:
    """The feelings of a message without its courtesy lines ("Thanks for your help!", "Have a good weekend")
    when it also complains: politeness around a complaint is not a positive feeling."""
    if not any(score <= NEGATIVE_AT for score in felt):
        return felt
    kept = [score for s, score in zip(sentences, felt, strict=True)
            if not (score > 0 and _COURTESY.search(s.text) and len(s.text.split()) <= _COURTESY_WORDS
                    and not _put_right(s.text))]
    return kept or felt


def _message_value(felt: list[float], survey: float | None, config: EngineConfig) -> tuple[float, float]:
    """(score -100..100, weight) of one customer message; weight 0 when there is nothing to read."""
    opinions = [s for s in felt if s <= NEGATIVE_AT or s >= POSITIVE_AT]
    text = sum(opinions) / len(opinions) * 100.0 if opinions else None
    emotion = config.emotion
    if survey is not None and text is not None:
        return 0.6 * survey + 0.4 * text, emotion.survey_weight
    if survey is not None:
        return survey, emotion.survey_weight
    if text is not None:
        return text, 1.0
    return 0.0, emotion.neutral_message_weight if felt else 0.0


def _note_rep_note(state: ContactState, interaction: Interaction, ts: float) -> None:
    """What the rep logged the customer said: evidence for reasons and intent, never for emotion."""
    config = state.config
    text = clean_text(interaction.body, max_chars=config.limits.max_text_chars)
    said = [s for s in split_sentences(text, max_sentences=config.limits.max_sentences)
            if _REPORTED.search(s) or _NAMED_SPEAKER.search(s)]
    if not said:
        return
    scorer = scorer_for(config)
    sentences = [scorer.score(s) for s in said]
    readings = classifier_for(config).read(said, [s.topics for s in sentences])
    felt = [_felt_score(s, r) for s, r in zip(sentences, readings, strict=True)]
    _note_sentences(state, interaction, sentences, readings, felt, ts, ts / decay.SECONDS_PER_DAY, "rep note",
                    reported=True)


def _note_system_record(state: ContactState, interaction: Interaction, ts: float) -> None:
    """A record the CRM itself wrote ("Deal Closed Lost. Reason: Budget / price", "Subscription terminated"):
    evidence for a reason and, when it records a termination, the date the customer churned."""
    config = state.config
    text = clean_text(f"{interaction.subject}\n{interaction.body}", max_chars=2000)
    lines = split_sentences(text, max_sentences=12)
    if not lines:
        return
    if any(_TERMINATED.search(line) for line in lines):
        quote = short_quote(next(line for line in lines if _TERMINATED.search(line)), 120)
        _keep_top(state.cancellations, [ts, interaction.id, interaction.kind, "system record", quote],
                  config.limits.recent_items)
    scorer = scorer_for(config)
    sentences = [scorer.score(line) for line in lines]
    readings = classifier_for(config).read(lines, [s.topics for s in sentences])
    for line, sentence, reading in zip(lines, sentences, readings, strict=True):
        if reading.reason == "none" or not (reading.cue or _REASON_FIELD.search(line)):
            continue  # a system text speaks of a reason only in a reason field or in the reason's own words
        entry = [ts, interaction.id, interaction.kind, interaction.subject[:120], short_quote(line, _QUOTE_STORE_CHARS),
                 min(sentence.score, -0.2), [reading.reason], None, "system", round(reading.margin, 4), reading.cue]
        _keep_top(state.negatives, entry, config.limits.recent_negatives)


def _note_ticket_category(state: ContactState, interaction: Interaction, ts: float) -> None:
    """A ticket logged by a rep or a system: its category (and subject) say what the problem was."""
    meta = interaction.metadata or {}
    category = str(meta.get("category") or "").strip()
    text = " ".join(p for p in (category, interaction.subject.strip()) if p)
    if not text:
        return
    scorer = scorer_for(state.config)
    sentence = scorer.score(text)
    reading = classifier_for(state.config).read([text], [sentence.topics])[0]
    if reading.reason == "none":
        return
    quote = short_quote(f"ticket category '{category}': {interaction.subject}" if category else interaction.subject,
                        _QUOTE_STORE_CHARS)
    entry = [ts, interaction.id, "ticket", interaction.subject[:120], quote, min(sentence.score, -0.2),
             [reading.reason], None, "system", round(reading.margin, 4), reading.cue]
    _keep_top(state.negatives, entry, state.config.limits.recent_negatives)


def _note_offer(state: ContactState, interaction: Interaction, ts: float) -> None:
    text = clean_text(f"{interaction.subject}\n{interaction.body}", max_chars=2000)
    if scorer_for(state.config).mentions_offer(text):
        _keep_top(state.offers, [ts, interaction.id, interaction.subject[:120]], state.config.limits.recent_items)


def _note_sentences(state: ContactState, interaction: Interaction, sentences: list[SentenceScore],
                    readings: list[Reading], felt: list[float], ts: float, day: float, source: str, *,
                    promoter: bool = False, reported: bool = False) -> None:
    config = state.config
    iid, kind = interaction.id, interaction.kind
    subject = interaction.subject[:120]
    half_life = config.emotion.half_life_days
    names = set(config.taxonomy.names)
    for s, reading, score in zip(sentences, readings, felt, strict=True):
        quote = short_quote(s.text, _QUOTE_STORE_CHARS)
        negative = score <= NEGATIVE_AT
        if source == "customer":
            feelings = [e for e in s.emotions if (e in NEGATIVE_EMOTIONS) == negative] \
                if negative or score >= POSITIVE_AT else []
            votes = {e: float(feelings.count(e)) for e in set(feelings)}
            if negative and s.feelings:
                # which negative feeling, by the emotion layer, where no cue word says it: a soft vote of one
                shares = {e: s.feelings[EMOTIONS.index(e)] for e in NEGATIVE_EMOTIONS}
                norm = sum(shares.values()) or 1.0
                for e, share in shares.items():
                    votes[e] = votes.get(e, 0.0) + share / norm
            for emotion in sorted(votes):
                state.cue_sums[emotion] = state.cue_sums.get(emotion, 0) + decay.term(votes[emotion], day, half_life)
            if feelings:
                _keep_top(state.cue_hits, [ts, iid, kind, ",".join(sorted(set(feelings))), ", ".join(s.cue_words),
                                           quote], 12)
            if s.advocacy and score >= POSITIVE_AT:
                _keep_top(state.advocacy, [ts, iid, kind, quote], config.limits.recent_items)
            if reading.reason != "none" and score >= _CLEARLY_POSITIVE and not _is_complaint(s, reading):
                # "quick and friendly support" after a support complaint: that topic has been put right
                _keep_top(state.praise, [ts, iid, reading.reason], config.limits.recent_items)
        if promoter and s.vader[0] > -0.5:
            topics = []
        elif _is_complaint(s, reading) or (reported and reading.reason != "none"):
            topics = [reading.reason]
        else:
            topics = sorted(t for t in s.topics if t in names) if negative else []
        if negative or s.intent or topics:
            _keep_top(state.negatives, [ts, iid, kind, subject, quote, round(score, 4), topics, s.intent, source,
                                        round(reading.margin, 4), reading.cue], config.limits.recent_negatives)
        if s.intent:
            _keep_top(state.intents, [ts, iid, kind, s.intent, quote, source], config.limits.recent_items)
        if s.cancellation:
            _keep_top(state.cancellations, [ts, iid, kind, source, quote], config.limits.recent_items)


def _note_stage(state: ContactState, ts: float, value: float | None, sentences: list[SentenceScore],
                felt: list[float]) -> None:
    """Per-stage emotion and pain points, for the journey map."""
    stage = state.timeline.stage_at(ts)
    stats = state.stage_stats.setdefault(stage, {"n": 0, "sum": 0, "pain": {}})
    if value is not None:
        stats["n"] += 1
        stats["sum"] += round(value * 1000)
    for s, score in zip(sentences, felt, strict=True):
        if score > NEGATIVE_AT:
            continue
        for topic in sorted(s.topics):
            pain = stats["pain"].setdefault(topic, [0, None])
            pain[0] += 1
            candidate = [round(score, 4), -ts, short_quote(s.text, _QUOTE_STORE_CHARS)]
            if pain[1] is None or candidate < pain[1]:
                pain[1] = candidate  # the most negative sentence is the example shown

