"""Generation on an OpenAI-compatible server instead of in-process: the scale-out path.

vLLM serves the base model and the LoRA adapters side by side (``vllm serve BASE --enable-lora
--lora-modules mine=/adapters/mine``) and picks the adapter by the request's model name; this backend
does the same: the RAG column asks for the base model's name, the fine-tuned columns for the adapter's.
Both are a :class:`~pipelines.generation.backend.GenerationBackend`, so the arena, the judge and the pair
writer use it unchanged; training and DPO need the in-process model (``loads_adapter_folders`` is False here).

Example::

    backend = OpenAICompatibleBackend("http://vllm:8000/v1", "Qwen/Qwen2.5-1.5B-Instruct")
    backend.load_adapter("mine")          # the name given to --lora-modules
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from pipelines.common.events import RowFailure
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.requests import GenerationRequest


class OpenAICompatibleBackend:
    """A ``GenerationBackend`` on a server: each adapter slot names a model the server serves."""

    model_id: str
    adapter_ids: dict[str, str]
    loads_adapter_folders = False  # an adapter is a served model name; folders are the server's business
    concurrent_requests = 1  # one question's columns at a time, as before (the server may batch them)

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=1)
        self.base_url = base_url
        self.model_id = model
        self.precision = f"served at {base_url}"
        self.adapter_models: dict[str, str] = {}  # column slot -> served model name
        self.adapter_ids: dict[str, str] = {}

    @property
    def location(self) -> str:
        return self.base_url

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_models

    def load_adapter(self, served_name: str | Path, name: str = FINETUNED_ADAPTER) -> str:
        """Point a column slot at a served model name (a vLLM LoRA module, or any model the server serves)."""
        served = str(served_name)
        self.adapter_models[name] = served
        self.adapter_ids[name] = f"{Path(served).name or served}@{self.base_url}"
        return self.adapter_ids[name]

    def is_live(self) -> bool:
        try:
            self.client.models.list()
            return True
        except Exception:
            return False

    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        """All rows as concurrent streaming requests; yield ``(row, delta)`` as they arrive, ``(row, None)``
        when a row ends, ``(row, RowFailure)`` when its request failed."""
        for request in requests:
            if request.adapter and request.adapter not in self.adapter_models:
                raise ValueError(f"Adapter '{request.adapter}' is not configured for {self.base_url}")
        events: queue.Queue[tuple[int, str | RowFailure | None]] = queue.Queue()

        def run(row: int, request: GenerationRequest) -> None:
            model = self.adapter_models[request.adapter] if request.adapter else self.model_id
            try:
                chunks = self.client.chat.completions.create(
                    model=model, messages=request.messages, max_tokens=max_new_tokens, temperature=temperature,
                    stream=True,
                )
                text = ""
                for chunk in chunks:
                    if chunk.choices and (delta := chunk.choices[0].delta.content):
                        text += delta
                        end = request.rules.answer_end(text)
                        if end is not None:  # the stop rule: keep the first sentence, close the stream
                            if kept := delta[:end - (len(text) - len(delta))]:
                                events.put((row, kept))
                            chunks.close()
                            break
                        events.put((row, delta))
            except Exception as exc:  # this row fails alone; the message names the server and the model
                events.put((row, RowFailure(f"{model} at {self.base_url}: {type(exc).__name__}: {exc}")))
            finally:
                events.put((row, None))

        for row, request in enumerate(requests):
            threading.Thread(target=run, args=(row, request), daemon=True, name=f"openai-row-{row}").start()
        open_rows, failed = set(range(len(requests))), set()
        while open_rows:
            row, item = events.get()
            if item is None:
                open_rows.discard(row)
                if row not in failed:
                    yield row, None
            else:
                if isinstance(item, RowFailure):
                    failed.add(row)
                yield row, item
