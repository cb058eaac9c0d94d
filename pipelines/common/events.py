"""Typed events that a pipeline streams to the UI while it answers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetrievedChunk:
    """One chunk returned by retrieval, with where it came from and how it scored."""

    text: str
    source: str
    chunk_index: int
    score: float
    rank: int
    heading: str = ""
    page: int | None = None
    before: str = ""  # the neighbouring chunks' text, to show the passage in its place in the document
    after: str = ""
    rerank_score: float | None = None  # set when a cross-encoder re-ordered the hits

    @property
    def location(self) -> str:
        """Where in its document the chunk sits: page and/or heading, for citations."""
        parts = [f"p. {self.page}"] if self.page is not None else []
        if self.heading:
            parts.append(f"§ {self.heading}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ContextEvent:
    chunks: list[RetrievedChunk]
    in_prompt: tuple[int, ...] | None = None  # the ranks of the chunks the prompt holds; None: all of them


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class Timings:
    """Seconds from the request to the first token and to the end of the answer."""

    first_token_s: float | None
    total_s: float
    retrieval_s: float | None = None
    tokens: int = 0


@dataclass(frozen=True)
class DoneEvent:
    answer: str
    timings: Timings


@dataclass(frozen=True)
class ErrorEvent:
    message: str


Event = ContextEvent | TokenEvent | DoneEvent | ErrorEvent  # per pipeline; RecordedEvent ends an exchange


@dataclass
class PipelineResult:
    """What one pipeline produced for one question, collected from its events."""

    pipeline: str
    answer: str = ""
    chunks: list[RetrievedChunk] = field(default_factory=list)
    error: str | None = None
    timings: Timings | None = None
    model_id: str = ""
    adapter_id: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """The exchange was stored; votes refer to it by ``exchange_id``."""

    exchange_id: str


@dataclass(frozen=True)
class RowFailure:
    """A backend yields this in place of a text delta when one row's request failed; the other rows go on."""

    message: str
