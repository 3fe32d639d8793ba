"""Which reason a sentence speaks of: nearest examples in embedding space, plus keyword cues.

Every reason is described by example sentences (``taxonomy``). A sentence scores, for each reason, the
mean cosine similarity of its ``top_k`` nearest examples; the `none` examples (questions, thanks, plans)
compete like any reason, so a sentence is only read as a reason when it is closer to that reason's
examples than to ordinary talk by a margin. Keyword cues add a small bonus, and are the whole signal
when the sentence model is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .embedding import SentenceModel, load_model
from .taxonomy import Taxonomy

if TYPE_CHECKING:
    from .config import EngineConfig


_MIN_WORDS = 3


@dataclass(frozen=True)
class Reading:
    reason: str          # best reason other than none ("none" when nothing is close)
    margin: float        # its score minus the none score (model), or the cue count (fallback)
    cue: bool            # a keyword cue of that reason occurs in the sentence


class ReasonClassifier:
    def __init__(self, taxonomy: Taxonomy, model: SentenceModel | None, *, top_k: int, cue_bonus: float,
                 min_margin: float) -> None:
        self.taxonomy = taxonomy
        self.model = model
        self.top_k = top_k
        self.cue_bonus = cue_bonus
        self.min_margin = min_margin
        self.names = list(taxonomy.names)
        self._matrix = None
        self._owner: list[int] = []
        if model is not None:
            import numpy as np

            texts, owner = [], []
            for index, name in enumerate(self.names):
                for example in taxonomy.reasons[name].examples:
                    texts.append(example)
                    owner.append(index)
            self._matrix = model.embed(texts)
            self._owner_arr = np.asarray(owner)
            self._groups = [np.flatnonzero(self._owner_arr == i) for i in range(len(self.names))]

    def read(self, sentences: list[str], cue_hits: list[frozenset[str]], embeddings: Any = None) -> list[Reading]:
        """One reading per sentence; ``cue_hits`` are the reasons whose cues each sentence contains.

        ``embeddings`` (unit rows of the sentences, from the same model) saves embedding them again.
        """
        if not sentences:
            return []
        if self._matrix is None:
            return [self._by_cues(hits) for hits in cue_hits]
        import numpy as np

        if embeddings is None:
            embeddings = self.model.embed(sentences)  # type: ignore[union-attr]
        sims = embeddings @ self._matrix.T
        scores = np.empty((len(sentences), len(self.names)))
        for i, group in enumerate(self._groups):  # one vectorised top-k per reason, for all sentences at once
            values = sims[:, group]
            k = min(self.top_k, values.shape[1])
            scores[:, i] = np.partition(values, -k, axis=1)[:, -k:].mean(axis=1)
        bonus = np.asarray([[self.cue_bonus if name in hits else 0.0 for name in self.names] for hits in cue_hits])
        scores += bonus
        none_index = self.names.index("none")
        none_scores = scores[:, none_index].copy()
        scores[:, none_index] = -np.inf
        best = np.argmax(scores, axis=1)
        out = []
        for row, (hits, sentence) in enumerate(zip(cue_hits, sentences, strict=True)):
            if not hits and len(sentence.split()) < _MIN_WORDS:
                out.append(Reading("none", 0.0, False))  # "Disappointing." says how, not what about
                continue
            name = self.names[int(best[row])]
            margin = float(scores[row, best[row]] - none_scores[row])
            out.append(Reading(name if margin >= self.min_margin else "none", margin, name in hits))
        return out

    def _by_cues(self, hits: frozenset[str]) -> Reading:
        ranked = [n for n in self.names if n in hits and n != "none"]
        if not ranked:
            return Reading("none", 0.0, False)
        return Reading(ranked[0], 1.0, True)


_CLASSIFIERS: dict[str, ReasonClassifier] = {}


def classifier_for(config: EngineConfig) -> ReasonClassifier:
    """One classifier per engine config (the example sentences are embedded once)."""
    found = _CLASSIFIERS.get(config.fingerprint)
    if found is None:
        if len(_CLASSIFIERS) >= 8:
            _CLASSIFIERS.pop(next(iter(_CLASSIFIERS)))
        rules = config.reason
        found = _CLASSIFIERS[config.fingerprint] = ReasonClassifier(
            config.taxonomy, load_model(), top_k=rules.top_k, cue_bonus=rules.cue_bonus, min_margin=rules.min_margin)
    return found
