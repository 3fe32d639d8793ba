"""Scores for a labelled set: per-class precision / recall / F1, a confusion matrix, correlation.

Plain arithmetic over (gold, predicted) pairs, so every figure in the eval table can be checked by hand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassScore:
    label: str
    support: int      # gold items of this class
    predicted: int    # items the engine put in this class
    precision: float
    recall: float
    f1: float


def per_class(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> list[ClassScore]:
    """Precision, recall and F1 of every label that occurs in gold or predictions (or of ``labels``)."""
    pairs = list(zip(gold, predicted, strict=True))
    names = list(labels) if labels is not None else sorted({*gold, *predicted})
    out = []
    for name in names:
        tp = sum(1 for g, p in pairs if g == p == name)
        support = sum(1 for g, _ in pairs if g == name)
        made = sum(1 for _, p in pairs if p == name)
        precision = tp / made if made else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append(ClassScore(name, support, made, precision, recall, f1))
    return out


def macro_f1(scores: Sequence[ClassScore], *, exclude: tuple[str, ...] = ()) -> float:
    """Mean F1 over the classes that have gold items (classes only ever predicted do not dilute it)."""
    kept = [s.f1 for s in scores if s.support and s.label not in exclude]
    return sum(kept) / len(kept) if kept else 0.0


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold) if gold else 0.0


def confusion(gold: Sequence[str], predicted: Sequence[str]) -> tuple[list[str], dict[tuple[str, str], int]]:
    """(labels, counts[(gold, predicted)])."""
    counts = Counter(zip(gold, predicted, strict=True))
    labels = sorted({*gold, *predicted})
    return labels, dict(counts)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def recall_of(gold: Sequence[bool], predicted: Sequence[bool]) -> tuple[float, int]:
    """(share of gold-true items predicted true, how many gold-true items)."""
    hits = [p for g, p in zip(gold, predicted, strict=True) if g]
    return (sum(hits) / len(hits) if hits else 0.0), len(hits)
