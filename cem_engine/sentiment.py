"""Sentence scoring: VADER with a customer-service lexicon layer, plus cue detection.

VADER scores single words; customer-service language carries much of its meaning in phrases ("still
waiting", "can't figure out", "charged twice") and in words VADER does not know ("refund", "crashes").
Words go into VADER's own lexicon; phrases are found by n-gram lookup over the sentence's tokens (a dict
lookup per token and length, so the cost stays proportional to sentence length however long the lists
grow) and add their valence to the sentence's compound score. The same lookup finds emotion cues, churn
topics, intent to leave, advocacy and upsell-offer language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .caseless import Caseless
from .config import EngineConfig
from .intent import cancellation, exit_intent
from .memo import Memo
from .text import normalise

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|%")
# A cue right after one of these is negated ("not confusing at all", "would not recommend").
_NEGATORS = frozenset({
    "not", "no", "never", "isn't", "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't", "won't",
    "wouldn't", "can't", "cannot", "without", "hardly", "nothing", "nobody", "none",
})
_NEGATION_WINDOW = 3
_MOVE_TO = Caseless(r"\b(?:switch|switching|move|moving|migrate|migrating) (?:over )?to\b")
# Requests and courtesy are not feelings: "I would like to know why I was charged" is not a liking.
_REQUEST = re.compile(r"\b(would|'d|d) (?:really )?(?:like|love)\b", re.IGNORECASE)
_GREETING = re.compile(r"\b(?:good (?:morning|afternoon|evening|day)|best regards|kind regards|thanks in advance"
                       r"|thank you in advance|many thanks|with thanks)\b", re.IGNORECASE)
_MEMO_SENTENCES = 8192  # scored sentences remembered per config (a few MB)
NEGATIVE_AT = -0.05  # VADER's own threshold for a negative compound score
POSITIVE_AT = 0.05


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text))


@dataclass(frozen=True)
class _PhraseInfo:
    valence: float = 0.0
    emotions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    intent: bool = False
    advocacy: bool = False
    offer: bool = False


@dataclass(frozen=True)
class SentenceScore:
    text: str
    score: float                 # VADER compound plus phrase valence, clamped to -1 .. 1
    emotions: tuple[str, ...]    # emotion-label cues found (one entry per cue)
    cue_words: tuple[str, ...]   # the phrases that were found, for explanations
    topics: frozenset[str]       # churn-reason topics mentioned
    intent: str | None           # the phrase expressing intent to leave, if any
    advocacy: bool
    offer: bool
    cancellation: str | None = None  # the words of a definite cancellation, if the sentence is one
    valence: float = 0.0         # what the customer-service phrases added (0 when none occurred)
    lexicon: bool = False        # a word of the configured lexicon additions occurs (the admin's reading counts)
    feelings: tuple[float, ...] = ()  # the emotion layer's probabilities of EMOTIONS (empty without the model)
    vader: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)  # VADER's compound, pos, neg, neu


class Scorer:
    """Scores sentences under one engine config; build through ``scorer_for``."""

    def __init__(self, config: EngineConfig) -> None:
        self.analyzer = SentimentIntensityAnalyzer()
        self.analyzer.lexicon.update(config.words)
        self.added_words = frozenset(w for w, v in config.words.items() if v)
        self.rivals = frozenset(tuple(tokens(name)) for name in config.competitor_names)
        table: dict[tuple[str, ...], dict[str, object]] = {}

        def add(phrase: str, key: str, value: object) -> None:
            words = tuple(tokens(phrase))
            if not words:
                return
            entry = table.setdefault(words, {})
            if key in ("emotions", "topics"):
                entry[key] = (*entry.get(key, ()), value)  # type: ignore[misc]
            else:
                entry[key] = value

        for phrase, valence in config.phrases.items():
            add(phrase, "valence", valence)
        for emotion, phrases in config.cues.items():
            for phrase in phrases:
                add(phrase, "emotions", emotion)
        for name, reason in config.taxonomy.reasons.items():
            for phrase in reason.cues:
                add(phrase, "topics", name)
        for phrase in config.intent:
            add(phrase, "intent", True)
        for phrase in config.advocacy.phrases:
            add(phrase, "advocacy", True)
        for phrase in config.offers:
            add(phrase, "offer", True)
        self.phrases = {k: _PhraseInfo(**v) for k, v in table.items()}  # type: ignore[arg-type]
        self.max_len = max((len(k) for k in self.phrases), default=1)
        # first word -> the lengths of the phrases it starts, longest first: most words start none, and the
        # longest-match scan only needs to try lengths that exist
        starts: dict[str, set[int]] = {}
        for key in self.phrases:
            starts.setdefault(key[0], set()).add(len(key))
        self._starts = {w: tuple(sorted(ns, reverse=True)) for w, ns in starts.items()}
        self._scores = Memo(_MEMO_SENTENCES)

    def mentions_offer(self, text: str) -> bool:
        """Whether text uses upsell-offer language (phrase lookup only: rep text is never scored for feeling)."""
        words = tokens(text)
        for i, word in enumerate(words):
            for n in self._starts.get(word, ()):
                if n > len(words) - i:
                    continue
                info = self.phrases.get(tuple(words[i:i + n]))
                if info is not None and info.offer:
                    return True
        return False

    def score(self, sentence: str) -> SentenceScore:
        """The sentence's scores; a sentence seen before is not scored again (the result is the same)."""
        found = self._scores.get(sentence)
        if found is None:
            found = self._score(sentence)
            self._scores.put(sentence, found)
        return found

    def _score(self, sentence: str) -> SentenceScore:
        plain = _GREETING.sub(" ", _REQUEST.sub(r"\1 want", sentence))
        vader = self.analyzer.polarity_scores(plain) if plain.strip() else {"compound": 0.0, "pos": 0.0,
                                                                              "neg": 0.0, "neu": 1.0}
        compound = vader["compound"]
        words = tokens(sentence)
        valence = 0.0
        emotions: list[str] = []
        found: list[str] = []
        topics: set[str] = set()
        intent: str | None = None
        advocacy = offer = False
        covered_until = 0  # end of the last phrase read; phrases inside it are not read again
        lookup, starts, count = self.phrases, self._starts, len(words)
        for i, word in enumerate(words):
            for n in starts.get(word, ()):
                if n > count - i:
                    continue
                info = lookup.get(tuple(words[i:i + n]))
                if info is None:
                    continue
                if i + n <= covered_until:
                    break  # inside a longer phrase already read: "doesn't support" is not about "support"
                covered_until = i + n
                phrase = " ".join(words[i:i + n])
                negated = any(w in _NEGATORS for w in words[max(0, i - _NEGATION_WINDOW):i])
                valence += info.valence
                topics.update(info.topics)  # what the sentence is about does not flip with negation
                if not negated:
                    if info.emotions:
                        emotions.extend(info.emotions)
                    if info.intent and intent is None:
                        intent = phrase
                    advocacy = advocacy or info.advocacy
                    offer = offer or info.offer
                if info.emotions or info.topics or info.intent or info.valence:
                    found.append(phrase)
                break  # longest phrase starting here wins
        stated = exit_intent(sentence)
        if intent is None and stated:
            intent = stated
        if intent is None and self.rivals:
            move = _MOVE_TO.found(sentence)
            if move and any(words[i:i + len(r)] == list(r) for r in self.rivals for i in range(len(words))):
                intent = move.lower()  # "we plan to switch to <a named competitor>"
        # A customer-service phrase outweighs VADER's reading of polite filler around it ("please send a
        # corrected invoice", "honestly it is hard to justify"): start from neutral when they disagree.
        if valence < 0:
            compound = min(compound, 0.0)
        elif valence > 0:
            compound = max(compound, 0.0)
        score = max(-1.0, min(1.0, compound + valence))
        return SentenceScore(
            text=sentence, score=score, emotions=tuple(emotions), cue_words=tuple(found),
            topics=frozenset(topics), intent=intent, advocacy=advocacy, offer=offer,
            cancellation=cancellation(sentence), valence=valence,
            lexicon=any(w in self.added_words for w in words),
            vader=(vader["compound"], vader["pos"], vader["neg"], vader["neu"]),
        )


_SCORERS: dict[str, Scorer] = {}
_MAX_SCORERS = 8


def scorer_for(config: EngineConfig) -> Scorer:
    """One scorer per distinct config (building VADER's lexicon takes milliseconds)."""
    scorer = _SCORERS.get(config.fingerprint)
    if scorer is None:
        if len(_SCORERS) >= _MAX_SCORERS:
            _SCORERS.pop(next(iter(_SCORERS)))
        scorer = _SCORERS[config.fingerprint] = Scorer(config)
    return scorer
