"""The app's public API: named endpoints for ``gradio_client`` and MCP tools, and nothing else.

Every public endpoint is a type-hinted function with a docstring that documents each parameter (Gradio
builds the API page and the MCP tool schema from them), taking and returning plain values with no
browser state. The UI's own event handlers take component values and session state, so
:func:`hide_ui_events` keeps them off the API page and the MCP tool list: the ones a UI file left public
become ``undocumented`` (still callable, as the end-to-end tests drive the UI's session flow through
``gradio_client``), and a UI file may make its own ``private`` with ``api_name=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from components.api_arena import arena_endpoints
from components.api_feedback import feedback_endpoints
from components.api_knowledge import knowledge_endpoints
from components.api_questions import question_endpoints
from components.api_queue import queue_endpoints
from components.api_training import training_endpoints
from components.questions import QuestionSetService
from pipelines.arena.api import ArenaAPI
from pipelines.arena.arena import Arena
from pipelines.common.auth import AdminAuth
from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.base import KnowledgeBase
from pipelines.training.jobs import TrainingJobs

PUBLIC_ENDPOINTS = (
    "ask_both", "vote", "health",
    "collections", "documents", "ingest", "delete_document",
    "train", "training_status", "cancel_training", "adapters", "activate_adapter",
    "pipeline_ratings", "export", "evaluate",
    "generate_questions", "question_set",
    "rating_queues", "queue_next", "queue_vote",
)
# Endpoints that share a queue with the UI: questions with the Arena tab's (as many at once as the backend batches,
# set in register_api), one batch evaluation and one ingestion at a time.
_OPTIONS: dict[str, dict[str, Any]] = {
    "ask_both": {"concurrency_id": "generation"},
    "evaluate": {"concurrency_limit": 1, "concurrency_id": "evaluation"},
    "ingest": {"concurrency_limit": 1, "concurrency_id": "ingestion"},
    "generate_questions": {"concurrency_limit": 1, "concurrency_id": "question-generation"},
    "health": {"queue": False},
    # Rating queues: a few milliseconds of store work each, no generation: answered at once, off Gradio's event queue
    # (one HTTP request; through the queue, 20 raters at once waited ~1 s for an item: docs/benchmarks.md).
    "rating_queues": {"queue": False},
    "queue_next": {"queue": False},
    "queue_vote": {"queue": False},
}


class ApiRuntime(Protocol):
    """What the public API needs of :class:`pipelines.runtime.Runtime` (a stub in the tests)."""

    arena: Arena
    feedback: FeedbackStore
    knowledge: KnowledgeBase | None
    rag_problem: str
    training: TrainingJobs | None
    backend: object | None

    @property
    def auth(self) -> AdminAuth: ...
    @property
    def adapter_folders(self) -> list[Path]: ...
    def health(self) -> dict: ...
    def activate_adapter(self, path: Path) -> str: ...
    def active_adapter(self) -> str: ...
    def batch_report(self, limit: int | None = None) -> tuple[str, Path]: ...
    @property
    def question_service(self) -> QuestionSetService: ...


def public_endpoints(runtime: ApiRuntime, questions: list[str], queues: RatingQueues | None = None) -> list[Callable]:
    """The public endpoint functions, in the order of ``PUBLIC_ENDPOINTS`` (each named as its endpoint);
    ``queues``: the rating queues the UI uses too (default: over ``runtime.feedback``)."""
    knowledge = runtime.knowledge

    def documents_of(collection: str) -> Path | None:
        return knowledge.originals_dir(collection or None) if knowledge else None

    return [
        *arena_endpoints(ArenaAPI(runtime.arena, runtime.feedback, runtime.health)),
        *knowledge_endpoints(knowledge, runtime.auth, runtime.rag_problem),
        *training_endpoints(runtime.training, runtime.auth, runtime.adapter_folders,
                            runtime.activate_adapter if runtime.backend else None, runtime.active_adapter,
                            documents_of),
        *feedback_endpoints(runtime.feedback, runtime.auth, questions, runtime.batch_report),
        *question_endpoints(runtime.question_service if knowledge else None, runtime.auth, runtime.rag_problem),
        *queue_endpoints(queues or RatingQueues(runtime.feedback)),
    ]


def register_api(runtime: ApiRuntime, questions: list[str], queues: RatingQueues | None = None) -> None:
    """Register the public endpoints; call inside the Blocks context, before the UI claims any name."""
    functions = public_endpoints(runtime, questions, queues)
    names = [fn.__name__ for fn in functions]
    if tuple(names) != PUBLIC_ENDPOINTS:
        raise RuntimeError(f"public endpoints {names} differ from PUBLIC_ENDPOINTS")
    questions_at_once = {"ask_both": {"concurrency_limit": runtime.arena.concurrent_requests}}
    for fn in functions:
        gr.api(fn, api_name=fn.__name__, **_OPTIONS.get(fn.__name__, {}), **questions_at_once.get(fn.__name__, {}))


def hide_ui_events(demo: gr.Blocks) -> list[str]:
    """Take every event that is not a public endpoint off the API page and the MCP tool list.

    Call at the end of the Blocks context (before its config is built). Returns the names it hid.
    """
    hidden = []
    for fn in demo.fns.values():
        if fn.api_visibility == "public" and fn.api_name not in PUBLIC_ENDPOINTS:
            fn.api_visibility = "undocumented"
            hidden.append(str(fn.api_name))
    return hidden
