"""The shape every arena column shares: turn a question into one generation request.

A pipeline only *prepares* (retrieves, builds the prompt, picks the adapter); the
arena decodes all prepared columns of a prompt together in one batch, so the base
model's weights exist once and the columns stream side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pipelines.common.events import RetrievedChunk
from pipelines.generation.requests import GenerationRequest
from pipelines.knowledge.retrieval import RetrievalOptions


class PipelineError(RuntimeError):
    """A column cannot answer (store down, adapter missing, ...); the message is shown in that column."""


@dataclass
class PreparedRequest:
    pipeline: str
    request: GenerationRequest
    chunks: list[RetrievedChunk] = field(default_factory=list)
    retrieval_s: float | None = None
    adapter_id: str | None = None
    in_prompt: tuple[int, ...] | None = None  # the ranks of the chunks that went into the prompt (None: all)


class Pipeline(Protocol):
    name: str  # a column id of pipelines.common.columns (its labels live there)

    def prepare(self, question: str, history: list[dict[str, str]],
                options: RetrievalOptions | None = None) -> PreparedRequest:
        """``options`` are the user's retrieval choices; pipelines without retrieval ignore them."""
        ...
