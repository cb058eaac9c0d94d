"""What the arena, the runtime and the helper models ask of a generation backend, without importing torch.

Three backends satisfy it: the in-process engines :class:`pipelines.generation.models.ModelBackend`
(transformers: the one base model with its LoRA adapters) and
:class:`pipelines.generation.llama_cpp_backend.LlamaCppBackend` (llama.cpp: the offline GGUF, adapters as GGUF
LoRA), and :class:`pipelines.generation.openai_backend.OpenAICompatibleBackend` (a vLLM-style server).
Callers that accept any of them ask this protocol's properties (``loads_adapter_folders``, ``is_live``,
``location``) instead of testing the class, so a fourth backend needs no change in them.

Example::

    def health(backend: GenerationBackend | None) -> str:
        if backend is None:
            return "not loaded"
        return "ok" if backend.is_live() else f"down: {backend.location} does not answer"
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipelines.common.events import RowFailure
from pipelines.generation.requests import GenerationRequest

#: The adapter slot of the fine-tuned columns (a backend may hold other slots, e.g. a DPO candidate).
FINETUNED_ADAPTER = "finetuned"


@runtime_checkable
class GenerationBackend(Protocol):
    """Batched streaming generation with named adapter slots."""

    model_id: str  # the base model's id (a hub id, a folder, or the served model name)
    adapter_ids: dict[str, str]  # adapter slot -> readable id of what is loaded there
    precision: str  # how the weights are held, for the model line of the UI

    @property
    def loads_adapter_folders(self) -> bool:
        """True when ``load_adapter`` takes a PEFT folder (training, DPO and activation need this), into this
        process or into a server at run time; False when an adapter can only be a name the server already serves."""
        ...

    @property
    def location(self) -> str:
        """Where generation runs, for messages: ``"in process"`` or the server's URL."""
        ...

    def is_live(self) -> bool:
        """Whether generation can answer now (a remote server is reachable); never raises."""
        ...

    @property
    def concurrent_requests(self) -> int:
        """How many questions are worth handing over at once (more than one when it batches across callers)."""
        ...

    def has_adapter(self, name: str) -> bool: ...

    def load_adapter(self, source: Path | str, name: str = FINETUNED_ADAPTER) -> str:
        """Put an adapter in slot ``name`` (a folder, or a served model name); returns its readable id."""
        ...

    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        """Decode all rows; yield ``(row, delta)``, ``(row, RowFailure)`` when one row failed alone,
        and ``(row, None)`` when a row ends."""
        ...
