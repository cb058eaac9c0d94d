"""RAG column: hybrid retrieval from Weaviate, numbered passages in the prompt, base model without adapter.

Example::

    rag = RagPipeline(knowledge_base.retriever, RetrievalOptions(top_k=3))
    prepared = rag.prepare("What is the T4's battery life?", history=[])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pipelines.arena.pipeline import PipelineError, PreparedRequest
from pipelines.common.columns import RAG
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.prompts import ReaderOptions, copy_source, passage_messages, passages_for
from pipelines.generation.requests import GenerationRequest
from pipelines.knowledge.retrieval import RetrievalOptions
from pipelines.knowledge.store import RetrievalError, Retriever

log = logging.getLogger(__name__)
RetrieverFactory = Callable[[RetrievalOptions], Retriever]


class RagPipeline:
    name = RAG.name

    def __init__(self, retrievers: RetrieverFactory | None, defaults: RetrievalOptions | None = None,
                 unavailable_reason: str = "", reader: ReaderOptions | None = None,
                 rules: AnswerRules | None = None) -> None:
        self.retrievers = retrievers
        self.defaults = defaults or RetrievalOptions()
        self.unavailable_reason = unavailable_reason
        self.reader = reader or ReaderOptions()
        self.rules = rules or AnswerRules()

    @classmethod
    def from_retriever(cls, retriever: Retriever, top_k: int = 3) -> RagPipeline:
        """One fixed retriever, whatever the options say about collection, alpha or rerank (tests, benches)."""
        return cls(lambda _options: retriever, RetrievalOptions(top_k=top_k))

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        if self.retrievers is None:
            raise PipelineError(f"Retrieval is unavailable: {self.unavailable_reason or 'no vector store'}")
        options = options or self.defaults
        started = time.perf_counter()
        try:
            chunks = self.retrievers(options).run(question, options.top_k, options.sources or None)
        except (RetrievalError, ValueError) as exc:  # ValueError: bad options, embedding-model mismatch
            raise PipelineError(str(exc)) from exc
        except Exception as exc:  # the client's own errors when the store is down or misconfigured
            log.exception("retrieval failed")
            raise PipelineError(f"Retrieval failed: {type(exc).__name__}: {exc}") from exc
        if not chunks:
            scope = f" within {', '.join(options.sources)}" if options.sources else ""
            raise PipelineError(f"No passages found{scope}: the collection is empty or nothing matched.")
        passages = passages_for(question, chunks, self.reader)
        copy_from = copy_source(question, passages, self.reader)
        return PreparedRequest(
            pipeline=self.name,
            request=GenerationRequest(passage_messages(question, passages, history, self.reader), adapter=None,
                                      rules=self.rules, copy_from=copy_from,
                                      copy_spans=self.reader.copy == "spans"),
            chunks=chunks,
            retrieval_s=time.perf_counter() - started,
            in_prompt=tuple(rank for rank, _text in passages),
        )
