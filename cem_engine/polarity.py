"""A learned polarity layer over the sentence model: negative / neutral / positive probabilities.

VADER reads words; reviews and complaints carry feeling in how things are said ("it only lasted a week",
"buy a better known brand"). A small softmax regression over the sentence embedding plus VADER's own
scores, trained by ``python -m eval.train_polarity`` on the train splits of public human-rated sentences,
gives a second reading. It needs the sentence model; without it the engine uses VADER alone.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .embedding import SentenceModel, load_model

CLASSES = ("negative", "neutral", "positive")
_VADER = SentimentIntensityAnalyzer()
_STATE: dict[str, Any] = {}


def features(model: SentenceModel, texts: list[str]) -> Any:
    import numpy as np

    vader = [_VADER.polarity_scores(t) for t in texts]
    extra = np.asarray([[v["compound"], v["pos"], v["neg"], v["neu"]] for v in vader], dtype=np.float32)
    return np.hstack([model.embed(texts), extra])


def _weights(name: str) -> Any:
    if name not in _STATE:
        import numpy as np

        try:
            text = resources.files("cem_engine").joinpath("models", f"{name}.json").read_text(encoding="utf-8")
            _STATE[name] = np.asarray(json.loads(text)["weights"], dtype=np.float64)
        except (FileNotFoundError, KeyError, ValueError):
            _STATE[name] = None
    return _STATE[name]


def _softmax(x: Any, weights: Any) -> Any:
    import numpy as np

    z = np.hstack([x, np.ones((len(x), 1))]) @ weights.T
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def read_layers(texts: list[str]) -> tuple[list[float], list[tuple[float, ...]]] | None:
    """Per text: P(positive) - P(negative) (-1..1) and the probabilities of the eight EMOTIONS (empty when
    that layer is missing); None when the sentence model or the polarity weights are missing."""
    model = load_model()
    polar = _weights("polarity") if model is not None else None
    if model is None or polar is None or not texts:
        return None
    x = features(model, texts)
    p = _softmax(x, polar)
    emotion = _weights("emotion")
    feelings = [tuple(float(v) for v in row) for row in _softmax(x, emotion)] if emotion is not None \
        else [() for _ in texts]
    return [float(v) for v in p[:, 2] - p[:, 0]], feelings


def polarity(texts: list[str]) -> list[float] | None:
    """P(positive) - P(negative) per text (-1..1), or None when the model or its weights are missing."""
    layers = read_layers(texts)
    return layers[0] if layers else None
