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
        self._position = {name: i for i, name in enumerate(self.names)}
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
            groups = [np.flatnonzero(self._owner_arr == i) for i in range(len(self.names))]
            # one padded index (reasons x most examples) so every reason's top-k is one vectorised partition;
            # the padding points at an extra column of -inf, and k never exceeds the smallest reason
            widest = max(len(g) for g in groups)
            self._index = np.full((len(groups), widest), len(texts))
            for i, group in enumerate(groups):
                self._index[i, :len(group)] = group
            self._k = min(top_k, min(len(g) for g in groups))

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
        padded = np.hstack([sims, np.full((len(sentences), 1), -np.inf)])[:, self._index]  # sentences x reasons x ex.
        scores = np.partition(padded, -self._k, axis=2)[:, :, -self._k:].mean(axis=2)
        for row, hits in enumerate(cue_hits):
            for name in hits:
                if name in self._position:
                    scores[row, self._position[name]] += self.cue_bonus
        none_index = self.names.index("none")
        none_scores = scores[:, none_index].copy()
        scores[:, none_index] = -np.inf
        best = np.argmax(scores, axis=1)
        out = []
        for row, hits in enumerate(cue_hits):
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
