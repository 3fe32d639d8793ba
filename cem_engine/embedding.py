"""The optional sentence model: WordLlama static embeddings, loaded from its own wheel, never downloaded.

WordLlama ships its weights (``weights/l2_supercat_256.safetensors``) and tokenizer config inside the pip
package. Its own lookup of the tokenizer path misses (it looks in ``tokenizer/``, the wheel has
``tokenizers/``), so the package folder is passed as ``cache_dir`` and downloads are disabled: a missing
file raises instead of fetching anything. If the package is not installed, or ``CEM_ENGINE_MODEL=off`` is
set, ``load_model`` returns ``None`` and the engine falls back to the keyword cues of each reason.
Weights licence: see docs/architecture.md (MIT as declared by the author; derived from the Llama 2 70B and
Phi-3 token embeddings).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from .memo import Memo

log = logging.getLogger(__name__)
MODEL_NAME = "wordllama l2_supercat 256d"
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}
_MEMO_SENTENCES = 8192  # embedded sentences remembered (1 KB each)


class SentenceModel:
    """Embeds sentences as unit vectors (numpy float32 rows).

    A sentence's row does not depend on the other sentences embedded with it (tokens are mean-pooled per row,
    padding is masked out; tests/test_engine_memo.py holds that to the bit), so rows are memoised per sentence
    and only the sentences not seen before go to the model, in one call.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = MODEL_NAME
        self._rows = Memo(_MEMO_SENTENCES)

    def embed(self, sentences: list[str]) -> Any:
        import numpy as np

        rows = [self._rows.get(s) for s in sentences]
        missing = list(dict.fromkeys(s for s, row in zip(sentences, rows, strict=True) if row is None))
        if not sentences or len(missing) == len(sentences):
            fresh = self._inner.embed(sentences, norm=True)
            for sentence, row in zip(sentences, fresh, strict=True):
                self._rows.put(sentence, _frozen(row))
            return fresh
        if missing:
            found = dict(zip(missing, self._inner.embed(missing, norm=True), strict=True))
            for sentence, row in found.items():
                self._rows.put(sentence, _frozen(row))
            rows = [found[s] if row is None else row for s, row in zip(sentences, rows, strict=True)]
        return np.vstack(rows)


def _frozen(row: Any) -> Any:
    row = row.copy()  # its own memory: a view would keep the whole batch alive
    row.flags.writeable = False
    return row


def model_status() -> str:
    """A one-line description for explanations: which model reads reasons, or why none does."""
    load_model()
    return _STATE.get("status", "not loaded")


def load_model() -> SentenceModel | None:
    """The process-wide model, loaded once; ``None`` when unavailable (the reason is in ``model_status``)."""
    with _LOCK:
        if "model" in _STATE:
            return _STATE["model"]
        model, status = _load()
        _STATE["model"], _STATE["status"] = model, status
        if model is None:
            log.warning("CEM reason model unavailable (%s); using keyword cues only", status)
        return model


def _load() -> tuple[SentenceModel | None, str]:
    if os.environ.get("CEM_ENGINE_MODEL", "").strip().lower() in ("off", "0", "false", "no"):
        return None, "disabled by CEM_ENGINE_MODEL=off; keyword cues only"
    # Sentences come a few at a time: the tokenizer's thread pool costs more than it saves (3x here), and a
    # pool started before a worker forks would deadlock the child. Respect an explicit setting.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from pathlib import Path

        import wordllama
        from wordllama import WordLlama
    except ImportError:
        return None, "the wordllama package is not installed; keyword cues only"
    try:
        inner = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except (FileNotFoundError, OSError, ValueError) as exc:
        return None, f"wordllama weights could not be read ({exc}); keyword cues only"
    return SentenceModel(inner), MODEL_NAME


def reset_for_tests() -> None:
    with _LOCK:
        _STATE.clear()
