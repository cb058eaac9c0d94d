"""What one row of a generation batch asks for, as a light value type (no torch), so every backend and
pipeline, the OpenAI-compatible one included, builds requests without loading the in-process model code.

Example::

    request = GenerationRequest(messages, adapter="finetuned", rules=AnswerRules(max_sentences=3))
    for row, text in backend.stream([request]):
        print(text, end="")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.generation.answer_rules import AnswerRules


@dataclass(frozen=True)
class GenerationRequest:
    """One row of a batch: chat messages, which adapter runs them (None = base model), and when it stops."""

    messages: list[dict[str, str]]
    adapter: str | None = None
    rules: AnswerRules = field(default_factory=AnswerRules)
    #: When set, the answer may use only the words of this text (the RAG reader's copy rule, see
    #: :mod:`pipelines.generation.copy_rule`); ``copy_spans``: inside a word it continues a span of the text.
    copy_from: str | None = None
    copy_spans: bool = False
