"""Trains the engine's emotion layer: which of the eight CEM emotions a sentence expresses, as a softmax
regression over WordLlama sentence embeddings plus VADER's scores, on the GoEmotions TRAIN split only.

    python -m eval.train_emotion             # writes cem_engine/models/emotion.json

The engine uses it to say *which* negative feeling a negative sentence carries (frustrated, angry, ...)
where no cue word says so; the score and the positive labels still come from the polarity reading.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cem_engine.config import default_config
from cem_engine.embedding import MODEL_NAME, load_model
from cem_engine.model import EMOTIONS
from cem_engine.polarity import features
from cem_engine.sentiment import scorer_for

from .train_polarity import fit

TRAIN = Path(__file__).parent / "data" / "public" / "goemotions" / "train.jsonl"
OUT = Path(__file__).parent.parent / "cem_engine" / "models" / "emotion.json"


def main() -> None:
    model = load_model()
    if model is None:
        raise SystemExit("the sentence model is not installed; run `make install`")
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in rows]
    y = np.asarray([EMOTIONS.index(r["emotion"]) for r in rows])
    scorer = scorer_for(default_config())  # the same VADER reading (with the engine's lexicon) the engine feeds in
    x = features(model.embed(texts), [scorer.score(t).vader for t in texts])
    half = np.arange(len(y)) % 2 == 0
    for train, check in ((half, ~half), (~half, half)):
        w = fit(x[train], y[train], classes=len(EMOTIONS))
        pred = np.argmax(np.hstack([x[check], np.ones((check.sum(), 1))]) @ w.T, axis=1)
        print(f"fold accuracy {float(np.mean(pred == y[check])):.3f} (8 classes, chance 0.125)")
    w = fit(x, y, classes=len(EMOTIONS))
    OUT.write_text(json.dumps({
        "classes": list(EMOTIONS), "embedding": MODEL_NAME, "trained_on": ["eval/data/public/goemotions/train.jsonl"],
        "weights": [[round(float(v), 5) for v in row] for row in w],
    }) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(y)} training sentences)")


if __name__ == "__main__":
    main()
