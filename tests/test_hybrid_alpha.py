"""Integration: the hybrid alpha slider on the real Weaviate knowledge base (the sample corpus). Alpha 0 must be
keyword (BM25) search and alpha 1 vector search, through the path the arena's RAG column takes
(``RetrievalOptions`` -> ``KnowledgeBase.retriever``). The query words were picked by reading assets/corpus."""

from __future__ import annotations

import re

from pipelines.arena.pipeline import PipelineError
from pipelines.arena.rag import RagPipeline
from pipelines.knowledge.base import KnowledgeBase
from pipelines.knowledge.retrieval import RetrievalOptions

TARGET = "travel_policy.txt"
KEYWORD = "Ledgerly"  # the travel policy's expense tool: a made-up word no other chunk holds
# what the travel policy is about, in words none of its chunk uses (checked below, so a corpus edit is caught)
PARAPHRASE = "reimbursement rules: work journeys, airfare, lodging"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def hits(knowledge_base: KnowledgeBase, query: str, alpha: float) -> list[tuple[str, int]]:
    """(source, chunk index) of the RAG column's passages for this alpha; [] when nothing matched."""
    rag = RagPipeline(knowledge_base.retriever)
    try:
        prepared = rag.prepare(query, [], RetrievalOptions(top_k=5, alpha=alpha))
    except PipelineError as exc:
        assert "No passages found" in str(exc)
        return []
    return [(chunk.source, chunk.chunk_index) for chunk in prepared.chunks]


def test_alpha_zero_is_keyword_search_and_alpha_one_is_vector_search(knowledge_base, knowledge):
    stored = knowledge.collection.query.fetch_objects(limit=1000).objects
    holding = [obj for obj in stored if KEYWORD.lower() in words(obj.properties["text"])]
    assert len(holding) == 1 and holding[0].properties["source"] == TARGET  # the corpus still has one such chunk
    target = (TARGET, int(holding[0].properties["chunk_index"]))
    # BM25 reads every text property: the paraphrase must share no word with any of them
    searchable = " ".join(str(holding[0].properties.get(name) or "") for name in ("text", "heading", "source",
                                                                                   "doc_type"))
    assert not words(PARAPHRASE) & words(searchable)

    assert hits(knowledge_base, KEYWORD, alpha=0.0)[0] == target  # the exact rare word: BM25 ranks it first
    assert target not in hits(knowledge_base, PARAPHRASE, alpha=0.0)  # no shared word: BM25 cannot find it
    assert hits(knowledge_base, PARAPHRASE, alpha=1.0)[0] == target  # the meaning alone: vectors rank it first
