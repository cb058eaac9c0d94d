"""Named API endpoints (``gradio_client``) and MCP tools for programs and agents: ask, vote, health.

The UI's own endpoints (``/ask``, ``/vote_left``, ``/ingest``, ``/export``, ``/evaluate``...) stay available
too; these take and return plain values, with no browser state, so an agent can call them one by one.
"""

from __future__ import annotations

import gradio as gr

from pipelines.arena.api import ArenaAPI


def register_api(api: ArenaAPI) -> None:
    """Call inside the Blocks context."""

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
        """Status of the model, the Weaviate store and the feedback database."""
        return api.health()

    gr.api(ask_both, api_name="ask_both", concurrency_limit=1, concurrency_id="generation")
    gr.api(vote, api_name="vote")
    gr.api(health, api_name="health", queue=False)
