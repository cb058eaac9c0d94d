"""Public API: a collection's question set, generated from its documents and fetched (also MCP tools).

Example::

    client.predict(collection="Manuals", count=20, out_of_corpus=-1, seed=0, api_name="/generate_questions")
    client.predict(collection="Manuals", api_name="/question_set")
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from components.questions import QuestionSetService
from pipelines.arena.api import whole_number
from pipelines.common.auth import AdminAuth
from pipelines.common.questions import QuestionSetError
from pipelines.evaluation.question_generation import DEFAULT_COUNT


def question_endpoints(service: QuestionSetService | None, auth: AdminAuth, unavailable: str = "") -> list[Callable]:
    """``/generate_questions`` and ``/question_set``; each refuses with ``unavailable`` without a knowledge base."""

    def require_service() -> QuestionSetService:
        if service is None:
            raise gr.Error(f"The knowledge base is unavailable: {unavailable or 'no vector store'}")
        return service

    def generate_questions(collection: str, count: int = DEFAULT_COUNT, out_of_corpus: int = -1, seed: int = 0) -> dict:
        """Make a question set from a collection's documents: each answerable question with its key fact and the
        sentence it came from, some out-of-corpus questions (no document answers them), worded away from the
        adapter's training questions. The same documents and seed give the same set.

        Args:
            collection: the collection whose documents the questions ask about.
            count: at most this many questions (1-500): one per fact the rules can word, up to it.
            out_of_corpus: how many of them the documents cannot answer; -1 for a tenth or more.
            seed: the random seed (wording, order, splits).

        Returns:
            questions (rows with id, question, reference, key, source, type, form, split, answerable), summary
            (Markdown). Nothing is saved: a set is reviewed and saved in the Questions tab (an admin action).
        """
        questions = require_service()
        try:
            rows, summary = questions.generate_questions(
                collection, whole_number("count", count), whole_number("out_of_corpus", out_of_corpus),
                whole_number("seed", seed))
        except (QuestionSetError, ValueError, OSError) as exc:
            raise gr.Error(str(exc)) from exc
        return {"questions": rows, "summary": summary}

    def question_set(collection: str = "") -> dict:
        """A collection's saved question set, or (empty collection) the one the evaluation uses.

        Args:
            collection: the collection; empty for the set the evaluation uses now.

        Returns:
            name (with the content hash), sha256 (of the set's file), chosen (whether the evaluation uses it) and
            questions (the rows as saved).
        """
        try:
            return require_service().describe_set(collection or None)
        except (QuestionSetError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc

    return [generate_questions, question_set]

