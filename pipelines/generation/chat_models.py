"""Chat models for the arena's helper jobs (writing training pairs, judging answers), behind one small interface.

Two kinds: the arena's own base model in-process (no adapter), and any OpenAI-compatible
server (vLLM, TGI, Ollama, llama.cpp's server, a hosted API) named by base URL, model and key.

Example::

    chat = LocalChatModel(backend)
    chat.complete([[{"role": "user", "content": "Say hi"}]], max_new_tokens=8)   # ["Hi!"]
"""

from __future__ import annotations

import time
from typing import Protocol

from pipelines.common.events import RowFailure
from pipelines.generation.backend import GenerationBackend
from pipelines.generation.requests import GenerationRequest

Messages = list[dict[str, str]]


class ChatModel(Protocol):
    name: str

    def complete(self, conversations: list[Messages], max_new_tokens: int,
                 timeout_s: float | None = None) -> list[str]:
        """One reply per conversation, in order (greedy, so the same input gives the same pairs).

        ``timeout_s`` bounds the whole call: a local model stops decoding (keeping what it wrote), an
        endpoint raises its client's timeout error.
        """
        ...


class LocalChatModel:
    """The arena's base model without adapter; all conversations decode as one batch."""

    def __init__(self, backend: GenerationBackend) -> None:
        self.backend = backend
        self.name = f"local:{backend.model_id}"

    def complete(self, conversations: list[Messages], max_new_tokens: int,
                 timeout_s: float | None = None) -> list[str]:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        replies = [""] * len(conversations)
        requests = [GenerationRequest(messages, adapter=None) for messages in conversations]
        for row, delta in self.backend.stream(requests, max_new_tokens, temperature=0.0):
            if isinstance(delta, RowFailure):  # a remote backend's request failed
                raise RuntimeError(delta.message)
            if delta is not None:
                replies[row] += delta
            if deadline is not None and time.monotonic() > deadline:
                break  # closing the stream stops decoding and frees the model for the arena
        return [reply.strip() for reply in replies]


class OpenAICompatibleChatModel:
    """A chat-completions endpoint; one request per conversation."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=1)
        self.model = model
        self.name = f"openai:{model}@{base_url}"

    def complete(self, conversations: list[Messages], max_new_tokens: int,
                 timeout_s: float | None = None) -> list[str]:
        replies = []
        for messages in conversations:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_new_tokens, temperature=0.0,
                **({"timeout": timeout_s} if timeout_s is not None else {}),
            )
            replies.append((response.choices[0].message.content or "").strip())
        return replies
