"""Public API: ask both pipelines, vote on an exchange, read the app's health. No browser state."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from pipelines.arena.api import ArenaAPI


def arena_endpoints(api: ArenaAPI) -> list[Callable]:
    """The arena's endpoints; ``api`` does the work, these give Gradio names, types and docs."""

    def ask_both(question: str, collection: str = "", top_k: int = 3, third_column: bool = False) -> dict:
        """Ask the RAG and the fine-tuned pipeline the same question (one base model, one batch).

        Args:
            question: the question about the documents.
            collection: the Weaviate collection to retrieve from; empty for the default one.
            top_k: how many passages RAG retrieves (1-50).
            third_column: also answer with RAG + the fine-tuned adapter.

        Returns:
            exchange_id (for vote), each pipeline's answer, error, timings and adapter, and the retrieved
            passages with source, rank and hybrid score.
        """
        try:
            return api.ask(question, collection, top_k, third_column)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    def vote(exchange_id: str, choice: str) -> dict:
        """Record which answer of an exchange was better.

        Args:
            exchange_id: the id that ask_both returned.
            choice: rag, finetuned, rag_finetuned (three columns only), tie or both_bad.

        Returns:
            the stored vote's id, on disk when this returns.
        """
        try:
            return api.vote(exchange_id, choice)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    def health() -> dict:
        """Status of the model, the Weaviate store and the feedback database ("ok" or why not), and whether
        questions of all sessions decode together (batching)."""
        return api.health()

    return [ask_both, vote, health]
