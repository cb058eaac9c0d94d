"""Scripted stand-ins for the model backend and the retriever: arena tests without a model or Weaviate.

Example::

    backend = ScriptedBackend({None: "Ada Quist founded it.", "finetuned": "Ada founded it."}, fail_row=1)
    retriever = ScriptedRetriever(["Lumenhollow was founded by Ada Quist."])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from pipelines.common.events import RetrievedChunk, RowFailure
from pipelines.generation.requests import GenerationRequest


class ScriptedBackend:
    """Streams a scripted answer per adapter (``None``: the base model), rows interleaved word by word as
    the batched decode interleaves them; each row ends with ``(row, None)``.

    ``fail_row`` makes that row of every batch end with a :class:`RowFailure` (a remote row failing
    alone); ``raise_after`` raises after that many deltas in all (the whole batch failing).
    """

    def __init__(self, answers: Mapping[str | None, str] | None = None, *, model_id: str = "scripted-model",
                 adapters: Mapping[str, str] | None = None, fail_row: int | None = None,
                 raise_after: int | None = None) -> None:
        self.answers = dict(answers or {None: "The base model answers.", "finetuned": "The adapter answers."})
        self.model_id = model_id
        self.adapter_ids = dict({"finetuned": "scripted-adapter@0000"} if adapters is None else adapters)
        self.fail_row = fail_row
        self.raise_after = raise_after
        self.batches: list[list[GenerationRequest]] = []  # every batch it was asked to decode
        self.concurrent_requests = 1

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_ids

    def answer_for(self, request: GenerationRequest) -> str:
        return self.answers.get(request.adapter, f"Answer of {request.adapter or 'the base model'}.")

    def stream(self, requests: Sequence[GenerationRequest], max_new_tokens: int = 96,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        self.batches.append(list(requests))
        words = [[w + " " for w in self.answer_for(r).split()][:max_new_tokens] for r in requests]
        sent = 0
        for step in range(max((len(w) for w in words), default=0) + 1):
            for row, row_words in enumerate(words):
                if step > len(row_words):
                    continue  # this row already ended
                if self.raise_after is not None and sent >= self.raise_after:
                    raise RuntimeError("scripted generation failure")
                if row == self.fail_row:
                    if step == 0:
                        yield row, RowFailure("scripted row failure")
                    continue
                yield (row, row_words[step]) if step < len(row_words) else (row, None)
                sent += 1


class ScriptedRetriever:
    """Returns the given passages as ranked chunks (the first ranks best), or raises ``error``."""

    def __init__(self, passages: Sequence[str] = ("Lumenhollow Instruments was founded by Ada Quist.",),
                 source: str = "scripted.txt", error: Exception | None = None) -> None:
        self.passages = list(passages)
        self.source = source
        self.error = error
        self.queries: list[str] = []

    def run(self, query: str, top_k: int, sources: Sequence[str] | None = None) -> list[RetrievedChunk]:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        return [RetrievedChunk(text=text, source=self.source, chunk_index=i, score=1.0 - i / 10, rank=i + 1)
                for i, text in enumerate(self.passages[:top_k])]
