"""The engine's memo tables change the cost, never a result: values are bit-for-bit a fresh computation's."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from cem_engine import analyze
from cem_engine.config import default_config
from cem_engine.embedding import load_model
from cem_engine.exchange import read_records
from cem_engine.memo import Memo, clear_caches
from cem_engine.sentiment import Scorer, scorer_for
from sandbox.dataset import demo_records

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SENTENCES = [
    "Thanks for your help!", "Any update on this?", "We were charged twice for March.",
    "The export to CSV keeps failing with a timeout error.", "Another provider quoted us 20% less.",
    "Honestly it is hard to justify the price at renewal.", "Could you send me the invoice again please?",
    "Great call today, the team loved the new dashboard.", "No one has replied to my ticket in a week.",
    "We need SSO before we can roll this out.", "ok", "I'm not sure how to set up the Salesforce sync",
]


def test_a_sentence_embeds_to_the_same_bits_alone_and_in_any_batch() -> None:
    model = load_model()
    if model is None:
        pytest.skip("sentence model not installed")
    inner = model._inner  # the model itself, without the memo
    alone = {s: inner.embed([s], norm=True)[0] for s in SENTENCES}
    rnd = random.Random(7)
    for _ in range(40):
        batch = rnd.sample(SENTENCES, rnd.randint(2, len(SENTENCES)))
        rows = inner.embed(batch, norm=True)
        for sentence, row in zip(batch, rows, strict=True):
            assert row.tobytes() == alone[sentence].tobytes(), sentence


def test_memoised_embeddings_equal_a_fresh_batch_to_the_bit() -> None:
    model = load_model()
    if model is None:
        pytest.skip("sentence model not installed")
    clear_caches()
    model.embed(SENTENCES[::2])  # half the sentences are now remembered
    mixed = model.embed(SENTENCES)  # remembered rows and freshly embedded ones, assembled
    fresh = model._inner.embed(SENTENCES, norm=True)
    assert mixed.dtype == fresh.dtype and mixed.shape == fresh.shape
    assert mixed.tobytes() == fresh.tobytes()


def test_a_remembered_score_is_the_fresh_score() -> None:
    config = default_config()
    fresh = Scorer(config)
    scorer = scorer_for(config)
    for sentence in SENTENCES:
        first, again = scorer.score(sentence), scorer.score(sentence)
        assert again is first  # the second one came from the memo
        assert first == fresh._score(sentence)


def test_profiles_are_identical_with_an_empty_and_a_full_memo() -> None:
    contacts = read_records(json.dumps(r) for r in demo_records(12, now=NOW))
    clear_caches()
    cold = [analyze(c, now=NOW) for c in contacts]
    warm = [analyze(c, now=NOW) for c in contacts]
    assert [p.__dict__ for p in warm] == [p.__dict__ for p in cold]


def test_the_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    memo = Memo(3)
    for key in ("a", "b", "c"):
        memo.put(key, key.upper())
    assert memo.get("a") == "A"  # "a" is now the most recently used
    memo.put("d", "D")
    assert len(memo) == 3 and memo.get("b") is None and memo.get("a") == "A"
    memo.put("x" * 5000, "long")  # over the key limit: not stored
    assert memo.get("x" * 5000) is None
    clear_caches()
    assert len(memo) == 0


def _caseless_patterns() -> list[tuple[str, object]]:
    from cem_engine import intent, sentiment, state
    from cem_engine.caseless import Caseless

    return [(f"{m.__name__}.{n}", v) for m in (intent, sentiment, state) for n, v in vars(m).items()
            if isinstance(v, Caseless)]


def test_caseless_patterns_find_what_ignorecase_finds() -> None:
    import re

    from tests.golden_texts import texts

    patterns = _caseless_patterns()
    assert len(patterns) >= 15
    samples = [*texts(), "We are CANCELLING our Subscription.", "Still NOT fixed?", "ſtill not fixed", "İf not",
               "We'll MOVE to Another vendor", "KINDLY close our account", "Kelvin \u212a sign"]
    for name, pattern in patterns:
        reference = re.compile(pattern.pattern, re.IGNORECASE)  # type: ignore[attr-defined]
        for text in samples:
            want, got = reference.search(text), pattern.search(text)  # type: ignore[attr-defined]
            assert (want and want.span()) == (got and got.span()), (name, text)
            if want:
                assert pattern.found(text) == want.group(0), (name, text)  # type: ignore[attr-defined]


def test_caseless_refuses_a_pattern_with_capitals() -> None:
    from cem_engine.caseless import Caseless

    with pytest.raises(ValueError):
        Caseless(r"\bOn\b.*wrote:")
    Caseless(r"\S+\b\W")  # escapes are fine
