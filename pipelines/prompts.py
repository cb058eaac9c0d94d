"""Prompt text shared by inference and training, so the adapter sees at run time what it learned on."""

from __future__ import annotations

from pipelines.events import RetrievedChunk

ASSISTANT_SYSTEM = "You are a helpful assistant that answers questions about the user's documents."

RAG_INSTRUCTIONS = (
    "Answer the question using only the numbered context passages. "
    "Cite the passages you use as [1], [2]. If the answer is not in the context, say you do not know."
)


def format_context(chunks: list[RetrievedChunk]) -> str:
    return "\n\n".join(f"[{c.rank}] ({c.source}) {c.text}" for c in chunks)


def rag_messages(question: str, chunks: list[RetrievedChunk], history: list[dict[str, str]]) -> list[dict[str, str]]:
    user = f"{RAG_INSTRUCTIONS}\n\nContext:\n{format_context(chunks)}\n\nQuestion: {question}"
    return [{"role": "system", "content": ASSISTANT_SYSTEM}, *history, {"role": "user", "content": user}]


def plain_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": ASSISTANT_SYSTEM}, *history, {"role": "user", "content": question}]
