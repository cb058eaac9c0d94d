"""RAG column: hybrid retrieval from Weaviate, numbered passages in the prompt, base model without adapter.

Example::

    rag = RagPipeline(HybridRetriever(store), top_k=3)
    prepared = rag.prepare("What is the T4's battery life?", history=[])
"""

from __future__ import annotations

import time

from pipelines.models import GenerationRequest
from pipelines.pipeline import PipelineError, PreparedRequest
from pipelines.prompts import rag_messages
from pipelines.store import RetrievalError, Retriever


class RagPipeline:
    name = "rag"
    label = "RAG"

    def __init__(self, retriever: Retriever | None, top_k: int = 3, unavailable_reason: str = "") -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.retriever = retriever
        self.top_k = top_k
        self.unavailable_reason = unavailable_reason

    def prepare(self, question: str, history: list[dict[str, str]]) -> PreparedRequest:
        if self.retriever is None:
            raise PipelineError(f"Retrieval is unavailable: {self.unavailable_reason or 'no vector store'}")
        started = time.perf_counter()
        try:
            chunks = self.retriever.run(question, self.top_k)
        except RetrievalError as exc:
            raise PipelineError(str(exc)) from exc
        return PreparedRequest(
            pipeline=self.name,
            request=GenerationRequest(rag_messages(question, chunks, history), adapter=None),
            chunks=chunks,
            retrieval_s=time.perf_counter() - started,
        )
