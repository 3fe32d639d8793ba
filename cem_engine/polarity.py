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

from .embedding import load_model

CLASSES = ("negative", "neutral", "positive")
_STATE: dict[str, Any] = {}


def features(embeddings: Any, vader: list[tuple[float, float, float, float]]) -> Any:
    """The layers' input: the sentence embedding and VADER's compound, pos, neg and neu of the sentence."""
    import numpy as np

    return np.hstack([embeddings, np.asarray(vader, dtype=np.float32).reshape(len(vader), 4)])


def _weights(name: str) -> Any:
    if name not in _STATE:
        import numpy as np

        try:
            text = resources.files("cem_engine").joinpath("models", f"{name}.json").read_text(encoding="utf-8")
            _STATE[name] = np.asarray(json.loads(text)["weights"], dtype=np.float64)
        except (FileNotFoundError, KeyError, ValueError):
            _STATE[name] = None
    return _STATE[name]


def _with_bias(x: Any) -> Any:
    import numpy as np

    return np.hstack([x, np.ones((len(x), 1))])


def _softmax(xb: Any, weights: Any) -> Any:
    """Class probabilities of rows ``xb`` (features with the bias column) under ``weights``."""
    import numpy as np

    z = xb @ weights.T
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def read_layers(embeddings: Any, vader: list[tuple[float, float, float, float]]
                ) -> tuple[list[float], list[tuple[float, ...]]] | None:
    """Per sentence: P(positive) - P(negative) (-1..1) and the probabilities of the eight EMOTIONS (empty when
    that layer is missing); None when the polarity weights are missing."""
    polar = _weights("polarity")
    if polar is None or not vader:
        return None
    xb = _with_bias(features(embeddings, vader))  # built once: both layers read the same rows
    p = _softmax(xb, polar)
    emotion = _weights("emotion")
    feelings = [tuple(row) for row in _softmax(xb, emotion).tolist()] if emotion is not None \
        else [() for _ in vader]
    return (p[:, 2] - p[:, 0]).tolist(), feelings


def polarity(texts: list[str]) -> list[float] | None:
    """P(positive) - P(negative) per text (-1..1) with the default engine config's VADER reading, or None
    when the model or its weights are missing."""
    from .config import default_config
    from .sentiment import scorer_for

    model = load_model()
    if model is None or not texts:
        return None
    scorer = scorer_for(default_config())
    layers = read_layers(model.embed(texts), [scorer.score(t).vader for t in texts])
    return layers[0] if layers else None
