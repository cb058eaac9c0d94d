"""The arena as plain functions for programs and agents (Gradio API endpoints and MCP tools), no UI state.

Each call is self-contained: ``ask`` returns the exchange id that ``vote`` takes, so a script or an
agent needs no browser session. Answers are whole (not streamed) and come with the retrieved passages.

Example::

    api = ArenaAPI(runtime.arena, runtime.feedback, runtime.health)
    result = api.ask("Who founded Lumenhollow?")
    api.vote(result["exchange_id"], "rag")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.common.columns import ARENA_COLUMNS, PAIR
from pipelines.common.events import PipelineResult
from pipelines.feedback.store import FeedbackError, FeedbackStore
from pipelines.knowledge.retrieval import RetrievalOptions


class ArenaAPI:
    def __init__(self, arena: Arena, feedback: FeedbackStore, health: Callable[[], dict]) -> None:
        self.arena = arena
        self.feedback = feedback
        self._health = health

    def ask(self, question: str, collection: str = "", top_k: int = 3, third_column: bool = False) -> dict:
        """Both pipelines (and RAG + fine-tuned if asked) answer; returns answers, passages and the exchange id.

        Raises ``ValueError`` for a refused prompt or bad retrieval options, with the reason.
        """
        if collection is not None and not isinstance(collection, str):  # API payloads arrive unconverted
            raise ValueError(f"collection must be a name (text), got {type(collection).__name__}")
        columns = ARENA_COLUMNS if third_column else PAIR
        session = ArenaSession(columns=columns, retrieval=RetrievalOptions(collection=collection or None,
                                                                           top_k=whole_number("top_k", top_k)))
        whole = self.arena.answer_whole(question, session)
        answers = {name: _answer(whole.results[name]) if name in whole.results else {"answer": "", "error": None}
                   for name in columns}
        stored = self.feedback.exchange(whole.exchange_id) or {"answers": {}}
        for name, answer in stored["answers"].items():
            answers.setdefault(name, {})["adapter"] = answer.get("adapter_id")
        passages = [{"rank": c.rank, "source": c.source, "score": round(c.score, 4), "heading": c.heading,
                     "page": c.page, "text": c.text} for c in whole.passages()]
        return {"exchange_id": whole.exchange_id, "question": question, "answers": answers, "contexts": passages}

    def vote(self, exchange_id: str, choice: str) -> dict:
        """Vote on an exchange: ``rag``, ``finetuned``, ``rag_finetuned`` (three columns), ``tie`` or ``both_bad``.

        Raises ``ValueError`` with the reason when the exchange or the choice is unknown.
        """
        if not isinstance(exchange_id, str) or not isinstance(choice, str):  # API payloads arrive unconverted
            raise ValueError("exchange_id and choice must be text: the id ask returned, and rag, finetuned, "
                             "rag_finetuned, tie or both_bad.")
        exchange = self.feedback.exchange(exchange_id)
        if exchange is None:
            raise ValueError(f"No exchange {exchange_id!r}: ask first, then vote with the id it returned.")
        session = ArenaSession(session_id=exchange["session_id"], exchange_id=exchange_id,
                               shown_order=list(exchange["answers"]), columns=tuple(exchange["answers"]))
        try:
            vote_id = self.arena.vote(session, choice)
        except FeedbackError as exc:
            raise ValueError(str(exc)) from exc
        return {"vote_id": vote_id, "exchange_id": exchange_id, "choice": choice}

    def health(self) -> dict:
        """Model, Weaviate and feedback-store status (``ok`` or why not), and batching across sessions."""
        return self._health()


def whole_number(name: str, value: object) -> int:
    """``value`` as an int, or ValueError naming the parameter: None, 2.5, "abc", NaN and infinity are refused
    (``int()`` raised TypeError or OverflowError for some, and cut 2.5 to 2)."""
    try:
        number = int(value)
        if isinstance(value, bool) or number != float(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a whole number, got {value!r:.60}") from None
    return number


def _answer(result: PipelineResult) -> dict:
    """One column's answer as the API returns it: the text and its timings, or the error and no text."""
    if result.error:
        return {"answer": "", "error": result.error}
    if result.timings is None:  # never finished (cannot happen with the arena's backends)
        return {"answer": "", "error": None}
    return {"answer": result.answer, "error": None, "timings": asdict(result.timings)}
