"""Runs every column of the arena for one prompt and records the exchange.

Columns are prepared one after another (retrieval is milliseconds), then decoded
together in one mixed-adapter batch of the shared base model. A column that fails
to prepare reports an error and the others still answer.

Example::

    arena = Arena([rag, finetuned], backend, feedback, settings)
    for pipeline, event in arena.ask("Who founded Lumenhollow?", session):
        ...                                   # streamed, for the UI
    arena.vote(session, "rag")
    whole = arena.answer_whole("Who founded Lumenhollow?", ArenaSession())   # drained, for programs
    whole.exchange_id, whole.results["rag"].answer
"""

from __future__ import annotations

import json
import logging
import random
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipelines.arena.pipeline import Pipeline, PipelineError, PreparedRequest
from pipelines.common.columns import BOTH_BAD, PAIR, RAG, TIE
from pipelines.common.events import (
    ContextEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PipelineResult,
    RecordedEvent,
    RetrievedChunk,
    RowFailure,
    Timings,
    TokenEvent,
)
from pipelines.feedback.store import FeedbackError, FeedbackStore
from pipelines.generation.backend import GenerationBackend
from pipelines.knowledge.retrieval import RetrievalOptions

log = logging.getLogger(__name__)
NO_OPEN_EXCHANGE = "Ask a question first: there is no answer to vote on yet."


class PromptError(ValueError):
    """The prompt was refused before anything ran or was stored."""


@dataclass
class ArenaSession:
    """Per-browser-tab state: an anonymous id, each column's history, and the exchange open for votes.

    In blind mode the columns are shuffled for every exchange; ``shown_order`` lists the
    pipelines from left to right as the user saw them.
    """

    session_id: str = ""  # given on the first question: UI state templates are deep-copied per browser tab
    user_name: str | None = None  # the signed-in Hugging Face user, when sign-in is on
    histories: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    exchange_id: str | None = None
    last_question: str | None = None
    blind: bool = False
    shown_order: list[str] = field(default_factory=list)
    voted: bool = False
    retrieval: RetrievalOptions | None = None  # the user's retrieval choices; None: the app's defaults
    columns: tuple[str, ...] = PAIR  # the pipelines this user compares (a third is optional)

    def pipeline_at(self, position: int) -> str:
        """The pipeline shown in column ``position`` (0 = left) of the open exchange."""
        if self.exchange_id is None or position >= len(self.shown_order):
            raise FeedbackError(NO_OPEN_EXCHANGE)
        return self.shown_order[position]


@dataclass(frozen=True)
class WholeAnswers:
    """Every column's finished answer to one question, and the stored exchange votes refer to."""

    exchange_id: str
    results: dict[str, PipelineResult]  # column -> answer, passages, error, timings, adapter; in column order

    def passages(self) -> list[RetrievedChunk]:
        """The retrieved passages: those of the first column that retrieved any (the RAG column)."""
        return next((r.chunks for r in self.results.values() if r.chunks), [])


class Arena:
    def __init__(
        self,
        pipelines: list[Pipeline],
        backend: GenerationBackend | None,
        feedback: FeedbackStore,
        *,
        max_new_tokens: int,
        max_prompt_chars: int,
        history_turns: int = 2,
        temperature: float = 0.0,
        model_error: str = "",
        votes_per_minute: int = 30,
        seed: int | None = None,
        on_vote=None,
    ) -> None:
        if not pipelines:
            raise ValueError("The arena needs at least one pipeline")
        self.pipelines = pipelines
        self.backend = backend
        self.feedback = feedback
        self.max_new_tokens = max_new_tokens
        self.max_prompt_chars = max_prompt_chars
        self.history_turns = history_turns
        self.temperature = temperature
        self.model_error = model_error
        self.on_vote = on_vote
        self.votes_per_minute = votes_per_minute
        self._rng = random.Random(seed)

    @property
    def concurrent_requests(self) -> int:
        """Questions the UI may hand over at once: more than one when the backend batches across sessions."""
        return self.backend.concurrent_requests if self.backend is not None else 1

    def active_pipelines(self, session: ArenaSession) -> list[Pipeline]:
        """The session's columns in the arena's order; the first two when the session names none known."""
        active = [p for p in self.pipelines if p.name in session.columns]
        return active if len(active) >= 2 else self.pipelines[:2]

    def validate(self, question: str) -> str:
        if question is not None and not isinstance(question, str):  # an API payload arrives unconverted
            raise PromptError(f"The question must be text, got {type(question).__name__}.")
        question = (question or "").strip()
        if not any(unicodedata.category(char)[0] not in "CZ" for char in question):  # only spaces/invisibles
            raise PromptError("Type a question first.")
        if len(question) > self.max_prompt_chars:
            raise PromptError(
                f"The question is {len(question):,} characters long; the limit is {self.max_prompt_chars:,} "
                "(ARENA_MAX_PROMPT_CHARS)."
            )
        return question

    def _history(self, session: ArenaSession, pipeline: str) -> list[dict[str, str]]:
        turns = session.histories.get(pipeline, [])
        return turns[-2 * self.history_turns :] if self.history_turns else []

    def ask(self, question: str, session: ArenaSession) -> Iterator[tuple[str, Event | RecordedEvent]]:
        """Yield ``(pipeline_name, event)`` while the columns answer, then ``("arena", RecordedEvent)``.

        Raises :class:`PromptError` before doing anything when the prompt is refused.
        """
        return self._ask(question, session, {})

    def answer_whole(self, question: str, session: ArenaSession) -> WholeAnswers:
        """Ask, and wait for every column to finish: what programs, demos and batch runs need (no streaming).

        Raises :class:`PromptError` when the prompt is refused, as :meth:`ask` does.
        """
        results: dict[str, PipelineResult] = {}
        exchange_id = ""
        for _name, event in self._ask(question, session, results):
            if isinstance(event, RecordedEvent):
                exchange_id = event.exchange_id
        return WholeAnswers(exchange_id, results)

    def _ask(self, question: str, session: ArenaSession,
             results: dict[str, PipelineResult]) -> Iterator[tuple[str, Event | RecordedEvent]]:
        """:meth:`ask`, filling ``results`` (one per active column) as the columns answer."""
        question = self.validate(question)
        session.session_id = session.session_id or uuid.uuid4().hex[:12]
        session.last_question = question
        active = self.active_pipelines(session)
        names = [p.name for p in active]
        session.shown_order = self._rng.sample(names, len(names)) if session.blind else names
        session.voted = False
        started = time.perf_counter()
        results.update({p.name: PipelineResult(p.name, model_id=self.backend.model_id if self.backend else "")
                        for p in active})
        prepared: list[PreparedRequest] = []
        for pipeline in active:
            try:
                if self.backend is None:
                    raise PipelineError(f"The model is not loaded: {self.model_error}")
                item = pipeline.prepare(question, self._history(session, pipeline.name), session.retrieval)
            except PipelineError as exc:
                results[pipeline.name].error = str(exc)
                yield pipeline.name, ErrorEvent(str(exc))
                continue
            results[pipeline.name].adapter_id = item.adapter_id
            results[pipeline.name].chunks = item.chunks
            if item.retrieval_s is not None:
                yield pipeline.name, ContextEvent(item.chunks, item.in_prompt)
            prepared.append(item)

        if prepared:
            yield from self._generate(prepared, results, started)

        exchange_id = self.feedback.record_exchange(
            session.session_id, question, results.values(), history=session.histories.get(RAG.name, []),
            mode="blind" if session.blind else "named", shown_order=session.shown_order,
            user_name=session.user_name,
        )
        session.exchange_id = exchange_id
        for name, result in results.items():
            answer = result.answer if not result.error else f"(error: {result.error})"
            session.histories.setdefault(name, []).extend(
                [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            )
        log.info("%s", exchange_log_line(exchange_id, session, question, results))
        yield "arena", RecordedEvent(exchange_id)

    def _generate(
        self, prepared: list[PreparedRequest], results: dict[str, PipelineResult], started: float
    ) -> Iterator[tuple[str, Event]]:
        first_token: dict[int, float] = {}
        counts = [0] * len(prepared)
        open_rows = set(range(len(prepared)))
        try:
            for row, delta in self.backend.stream(
                [p.request for p in prepared], self.max_new_tokens, self.temperature
            ):
                item = prepared[row]
                result = results[item.pipeline]
                if isinstance(delta, RowFailure):  # a remote backend's row failed alone
                    open_rows.discard(row)
                    result.error = f"Generation failed: {delta.message}"
                    yield item.pipeline, ErrorEvent(result.error)
                    continue
                if delta is None:
                    open_rows.discard(row)
                    result.answer = result.answer.strip()
                    result.timings = Timings(
                        first_token_s=first_token.get(row, started) - started if row in first_token else None,
                        total_s=time.perf_counter() - started,
                        retrieval_s=item.retrieval_s,
                        tokens=counts[row],
                    )
                    yield item.pipeline, DoneEvent(result.answer, result.timings)
                    continue
                first_token.setdefault(row, time.perf_counter())
                counts[row] += 1
                result.answer += delta
                yield item.pipeline, TokenEvent(delta)
        except Exception as exc:  # generation failed: report it in every column still open
            log.exception("generation failed")
            for row in sorted(open_rows):
                name = prepared[row].pipeline
                results[name].error = f"Generation failed: {exc}"
                yield name, ErrorEvent(results[name].error)

    def vote(self, session: ArenaSession, choice: str) -> int:
        """Store the vote on the session's open exchange; returns the vote id once it is on disk."""
        if session.exchange_id is None:
            raise FeedbackError(NO_OPEN_EXCHANGE)
        if choice not in (*session.shown_order, TIE, BOTH_BAD):
            raise FeedbackError(f"{choice!r} did not answer this question; vote for one of "
                                f"{', '.join(session.shown_order)}, tie or both_bad.")
        vote_id = self.feedback.add_vote(session.exchange_id, choice, session_id=session.session_id,
                                         user_name=session.user_name, limit_per_minute=self.votes_per_minute)
        session.voted = True
        if self.on_vote is not None:
            self.on_vote(session.exchange_id)
        return vote_id

    def rate(self, session: ArenaSession, position: int, *, score: int | None, tags: list[str],
             comment: str) -> int:
        """Store a rating of the answer shown in column ``position`` of the open exchange."""
        pipeline = session.pipeline_at(position)
        return self.feedback.add_rating(session.exchange_id, pipeline, session_id=session.session_id,
                                        user_name=session.user_name, score=score, tags=tags, comment=comment)


def exchange_log_line(exchange_id: str, session: ArenaSession, question: str,
                      results: dict[str, PipelineResult]) -> str:
    """One JSON line per exchange (ids and timings, never the text), for log search and dashboards."""
    def seconds(field: str, timings: Timings | None) -> float | None:
        value = getattr(timings, field) if timings else None
        return None if value is None else round(value, 3)

    columns = {}
    for name, result in results.items():
        timings = result.timings
        columns[name] = {
            "ok": not result.error,
            **{field: seconds(field, timings) for field in ("total_s", "first_token_s", "retrieval_s")},
            "tokens": timings.tokens if timings else 0,
            "adapter": result.adapter_id,
            "passages": len(result.chunks),
        }
    return json.dumps({"event": "exchange", "exchange_id": exchange_id, "session_id": session.session_id,
                       "user": session.user_name, "question_chars": len(question), "columns": columns},
                      separators=(",", ":"))
