"""Integration: the cross-encoder rerank option through the knowledge base on the real Weaviate collection.

No trained cross-encoder is available offline, so the order is checked with a scripted scorer put where
``KnowledgeBase`` keeps its cross-encoder: the final order must follow the scorer, not the hybrid search.
The real ``sentence_transformers.CrossEncoder`` (on the offline MiniLM weights, an untrained head) checks
only the wiring: built from ``ARENA_RERANKER_MODEL`` and run over the configured number of candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.knowledge.retrieval import CrossEncoderReranker, RetrievalOptions, WithNeighbours

QUERY = "battery life of the Tessel T4"


class ScriptedScorer:
    """A cross-encoder stand-in: each passage's score is scripted (text -> score); it records what it was asked."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.pairs: list[tuple[str, str]] = []

    def predict(self, pairs: list[tuple[str, str]], **_: object) -> Sequence[float]:
        self.pairs.extend(pairs)
        return [self.scores[passage] for _query, passage in pairs]


def test_reranked_passages_follow_the_scorer_not_the_hybrid_order(knowledge_base, monkeypatch):
    candidates = knowledge_base.settings.rerank_candidates
    hybrid = knowledge_base.retriever(RetrievalOptions(top_k=candidates)).run(QUERY, candidates)
    assert len(hybrid) == candidates and len({hit.text for hit in hybrid}) == candidates
    # the script reverses the hybrid order: its last candidate scores best
    scorer = ScriptedScorer({hit.text: float(hit.rank) for hit in hybrid})
    monkeypatch.setattr(knowledge_base, "_reranker", scorer)  # where KnowledgeBase keeps its cross-encoder

    reranked = knowledge_base.retriever(RetrievalOptions(top_k=3, rerank=True)).run(QUERY, 3)
    assert [hit.text for hit in reranked] == [hit.text for hit in hybrid[::-1][:3]]
    assert [hit.text for hit in reranked] != [hit.text for hit in hybrid[:3]]
    assert [hit.rank for hit in reranked] == [1, 2, 3]
    assert [hit.rerank_score for hit in reranked] == [float(candidates), candidates - 1.0, candidates - 2.0]
    assert [hit.score for hit in reranked] == [hit.score for hit in hybrid[::-1][:3]]  # the hybrid score is kept
    # every candidate was scored once, against the user's question
    assert sorted(passage for _query, passage in scorer.pairs) == sorted(hit.text for hit in hybrid)
    assert {query for query, _passage in scorer.pairs} == {QUERY}
    assert any(hit.before or hit.after for hit in reranked)  # the passages still come with their surroundings


def test_the_real_cross_encoder_is_built_from_the_settings_and_wired_in(knowledge_base, embedder, monkeypatch):
    from sentence_transformers import CrossEncoder

    settings = knowledge_base.settings.model_copy(update={"reranker_model": embedder.path, "rerank_candidates": 6})
    monkeypatch.setattr(knowledge_base, "settings", settings)
    monkeypatch.setattr(knowledge_base, "_reranker", None)
    assert knowledge_base.reranker_available
    retriever = knowledge_base.retriever(RetrievalOptions(top_k=3, rerank=True))
    assert isinstance(retriever, WithNeighbours) and isinstance(retriever.retriever, CrossEncoderReranker)
    reranker = retriever.retriever
    assert isinstance(reranker.scorer, CrossEncoder) and reranker.candidates == 6
    hits = retriever.run(QUERY, 3)
    scores = [hit.rerank_score for hit in hits]
    assert [hit.rank for hit in hits] == [1, 2, 3] and None not in scores and scores == sorted(scores, reverse=True)
