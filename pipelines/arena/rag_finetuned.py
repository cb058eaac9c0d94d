"""Third column, optional: retrieval *and* the adapter — the fine-tuned model reading the same passages as RAG.

It answers "do they add up?": facts and style learned by the adapter, plus fresh citable context.
It reuses the RAG column's retrieval and prompt, swaps in the active adapter, and lets it read freely: the
copy rule (:mod:`pipelines.generation.copy_rule`) is a crutch for the *base* model's reading, while this
column shows what the adapter's own (RAFT-trained) reading adds. With the rule the two RAG columns read the
passage out alike, and the adapter lost answers it gave freely (sample test split, RAG + fine-tuned: 42% free,
25% with the rule; a closed-book test adapter: 22% vs 11%).

Example::

    both = RagFinetunedPipeline(rag, backend)
    prepared = both.prepare("What is the T4's battery life?", history=[])
"""

from __future__ import annotations

from dataclasses import replace

from pipelines.arena.pipeline import PipelineError, PreparedRequest
from pipelines.arena.rag import RagPipeline
from pipelines.common.columns import RAG_FINETUNED
from pipelines.generation.backend import FINETUNED_ADAPTER, GenerationBackend
from pipelines.knowledge.retrieval import RetrievalOptions


class RagFinetunedPipeline:
    name = RAG_FINETUNED.name

    def __init__(self, rag: RagPipeline, backend: GenerationBackend | None, adapter: str = FINETUNED_ADAPTER) -> None:
        self.rag = rag
        self.backend = backend
        self.adapter = adapter

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        if self.backend is None or not self.backend.has_adapter(self.adapter):
            raise PipelineError("No fine-tuned adapter is loaded, so there is nothing to combine with retrieval.")
        prepared = self.rag.prepare(question, history, options)
        return replace(
            prepared, pipeline=self.name,
            request=replace(prepared.request, adapter=self.adapter, copy_from=None, copy_spans=False),
            adapter_id=self.backend.adapter_ids[self.adapter],
        )
