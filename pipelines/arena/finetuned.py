"""Closed-book columns: the fine-tuned one (the base model with the active LoRA adapter, no retrieval), and
the base model alone (the floor both approaches are measured against).

Example::

    finetuned = FinetunedPipeline(backend)
    prepared = finetuned.prepare("What is the T4's battery life?", history=[])
"""

from __future__ import annotations

from pipelines.arena.pipeline import PipelineError, PreparedRequest
from pipelines.common.columns import BASE, FINETUNED
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.backend import FINETUNED_ADAPTER, GenerationBackend
from pipelines.generation.prompts import plain_messages
from pipelines.generation.requests import GenerationRequest
from pipelines.knowledge.retrieval import RetrievalOptions


class FinetunedPipeline:
    name = FINETUNED.name

    def __init__(self, backend: GenerationBackend | None, adapter: str = FINETUNED_ADAPTER,
                 rules: AnswerRules | None = None) -> None:
        self.backend = backend
        self.adapter = adapter
        self.rules = rules or AnswerRules()

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        if self.backend is None or not self.backend.has_adapter(self.adapter):
            raise PipelineError(
                "No fine-tuned adapter is loaded. Train one with `python -m pipelines.training` "
                "or set ARENA_ADAPTER_PATH."
            )
        return PreparedRequest(
            pipeline=self.name,
            request=GenerationRequest(plain_messages(question, history), adapter=self.adapter, rules=self.rules),
            adapter_id=self.backend.adapter_ids[self.adapter],
        )


class BasePipeline:
    """The floor: the base model alone, no retrieval and no adapter. What the model knew before either
    approach; an optional column, and the first row of ``bench/answer_quality.py``."""

    name = BASE.name

    def __init__(self, backend: GenerationBackend | None, rules: AnswerRules | None = None) -> None:
        self.backend = backend
        self.rules = rules or AnswerRules()

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        if self.backend is None:
            raise PipelineError("The model is not loaded.")
        return PreparedRequest(pipeline=self.name,
                               request=GenerationRequest(plain_messages(question, history), rules=self.rules))
