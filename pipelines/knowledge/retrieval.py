"""Retrieval parts that compose behind the :class:`~pipelines.knowledge.store.Retriever` seam.

``HybridRetriever`` asks Weaviate; ``CrossEncoderReranker`` wraps any retriever, fetches more
candidates and re-orders them with a cross-encoder; ``WithNeighbours`` wraps any retriever
and attaches the text around each hit, so the context panel can show a passage in its place.

Example::

    retriever = WithNeighbours(CrossEncoderReranker(HybridRetriever(store, alpha=0.5), scorer), store)
    retriever.run("Who founded Lumenhollow?", top_k=3, sources=["company_overview.md"])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from pipelines.common.events import RetrievedChunk
from pipelines.knowledge.store import KnowledgeStore, RetrievalError, Retriever


@dataclass(frozen=True)
class RetrievalOptions:
    """What the user chose for one question: collection, how many passages, BM25/vector mix, filter, rerank."""

    collection: str | None = None  # None: the default collection
    top_k: int = 3
    alpha: float = 0.5
    sources: tuple[str, ...] = ()  # only these documents; empty means all
    rerank: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= 50:
            raise ValueError(f"top_k must be within [1, 50], got {self.top_k}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")


class HybridRetriever:
    """Weaviate hybrid search as a :class:`Retriever` with fixed ``alpha`` (0 = BM25 only, 1 = vectors only).

    Example::

        HybridRetriever(store, alpha=0.5).run("Who founded Lumenhollow?", top_k=3)
    """

    def __init__(self, store: KnowledgeStore, alpha: float = 0.5) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {alpha}")
        self.store = store
        self.alpha = alpha

    def run(self, query: str, top_k: int, sources: Sequence[str] | None = None) -> list[RetrievedChunk]:
        return self.store.hybrid_search(query, top_k=top_k, alpha=self.alpha, sources=sources)


class PairScorer(Protocol):
    """Scores (query, passage) pairs, higher is more relevant: a sentence-transformers CrossEncoder fits."""

    def predict(self, pairs: list[tuple[str, str]], **kwargs) -> Sequence[float]: ...


class CrossEncoderReranker:
    """Fetch ``candidates`` passages from ``retriever``, keep the ``top_k`` a cross-encoder ranks highest.

    The hybrid score stays on each chunk; the cross-encoder's score goes to ``rerank_score``
    and the rank is the new order.

    Example::

        from sentence_transformers import CrossEncoder
        reranker = CrossEncoderReranker(HybridRetriever(store), CrossEncoder("cross-encoder/ms-marco-MiniLM-L-6-v2"))
    """

    def __init__(self, retriever: Retriever, scorer: PairScorer, candidates: int = 20) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        self.retriever = retriever
        self.scorer = scorer
        self.candidates = candidates
        self._lock = threading.Lock()

    def run(self, query: str, top_k: int, sources: Sequence[str] | None = None) -> list[RetrievedChunk]:
        hits = self.retriever.run(query, max(top_k, self.candidates), sources)
        if not hits:
            return []
        try:
            with self._lock:
                scores = [float(s) for s in self.scorer.predict([(query, hit.text) for hit in hits])]
        except Exception as exc:
            raise RetrievalError(f"The reranker failed: {type(exc).__name__}: {exc}") from exc
        ordered = sorted(zip(scores, hits, strict=True), key=lambda pair: -pair[0])[:top_k]
        return [replace(hit, rank=rank, rerank_score=score) for rank, (score, hit) in enumerate(ordered, start=1)]


class WithNeighbours:
    """Attach the neighbouring chunks' text to each hit, for 'show in document' in the context panel."""

    def __init__(self, retriever: Retriever, store: KnowledgeStore) -> None:
        self.retriever = retriever
        self.store = store

    def run(self, query: str, top_k: int, sources: Sequence[str] | None = None) -> list[RetrievedChunk]:
        hits = self.retriever.run(query, top_k, sources)
        try:
            around = self.store.neighbours(hits)
        except Exception:  # the surroundings are a convenience: never lose the hits for them
            return hits
        return [replace(hit, before=around.get((hit.source, hit.chunk_index - 1), ""),
                        after=around.get((hit.source, hit.chunk_index + 1), "")) for hit in hits]
