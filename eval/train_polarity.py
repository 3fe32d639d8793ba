"""Trains the engine's polarity layer: a 3-class logistic regression over WordLlama sentence embeddings
plus VADER's own scores, on the TRAIN splits of the public polarity sets only (never their test splits).

    python -m eval.train_polarity            # writes cem_engine/models/polarity.json

The result is small (3 x 260 numbers), shipped in the wheel, and read by ``cem_engine.polarity``.
Deterministic: fixed iteration count, full-batch gradient descent, no random state.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cem_engine.config import default_config
from cem_engine.embedding import MODEL_NAME, load_model
from cem_engine.polarity import CLASSES, features
from cem_engine.sentiment import scorer_for

TRAIN = [Path(__file__).parent / "data" / "public" / name / "train.jsonl" for name in ("vader_amazon", "vader_tweets",
                                                                                      "goemotions")]
OUT = Path(__file__).parent.parent / "cem_engine" / "models" / "polarity.json"
L2 = 1e-3
STEPS = 800
RATE = 0.5


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = STEPS, classes: int = len(CLASSES)) -> np.ndarray:
    """Weights (classes x features+1) of a softmax regression."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((classes, xb.shape[1]))
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        z = xb @ w.T
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot).T @ xb / len(xb) + l2 * w
        w -= RATE * grad
    return w


def load(paths: list[Path]) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("polarity") not in CLASSES:
                continue  # e.g. GoEmotions' "confusion", which it counts as neither positive nor negative
            texts.append(row["text"])
            labels.append(CLASSES.index(row["polarity"]))
    return texts, np.asarray(labels)


def main() -> None:
    model = load_model()
    if model is None:
        raise SystemExit("the sentence model is not installed; run `make install`")
    texts, y = load(TRAIN)
    scorer = scorer_for(default_config())  # the same VADER reading (with the engine's lexicon) the engine feeds in
    x = features(model.embed(texts), [scorer.score(t).vader for t in texts])
    # two-fold check on the train split itself, so the figure printed is not a training-set score
    half = np.arange(len(y)) % 2 == 0
    for train, check in ((half, ~half), (~half, half)):
        w = fit(x[train], y[train])
        pred = np.argmax(np.hstack([x[check], np.ones((check.sum(), 1))]) @ w.T, axis=1)
        recalls = [float(np.mean(pred[y[check] == c] == c)) for c in range(len(CLASSES))]
        print("fold recall", dict(zip(CLASSES, (round(r, 3) for r in recalls), strict=True)))
    w = fit(x, y)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "classes": list(CLASSES), "embedding": MODEL_NAME, "trained_on": [str(p.relative_to(OUT.parents[2]))
                                                                          for p in TRAIN],
        "weights": [[round(float(v), 5) for v in row] for row in w],
    }) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(y)} training sentences)")


if __name__ == "__main__":
    main()
