"""Fine-tuned column: the same base model with the active LoRA adapter, no retrieval.

Example::

    finetuned = FinetunedPipeline(backend)
    prepared = finetuned.prepare("What is the T4's battery life?", history=[])
"""

from __future__ import annotations

from pipelines.models import FINETUNED_ADAPTER, GenerationRequest, ModelBackend
from pipelines.pipeline import PipelineError, PreparedRequest
from pipelines.prompts import plain_messages
from pipelines.retrieval import RetrievalOptions


class FinetunedPipeline:
    name = "finetuned"
    label = "Fine-tuned"

    def __init__(self, backend: ModelBackend | None, adapter: str = FINETUNED_ADAPTER) -> None:
        self.backend = backend
        self.adapter = adapter

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        if self.backend is None or not self.backend.has_adapter(self.adapter):
            raise PipelineError(
                "No fine-tuned adapter is loaded. Train one with `python -m pipelines.training` "
                "or set ARENA_ADAPTER_PATH."
            )
        return PreparedRequest(
            pipeline=self.name,
            request=GenerationRequest(plain_messages(question, history), adapter=self.adapter),
            adapter_id=self.backend.adapter_ids[self.adapter],
        )
