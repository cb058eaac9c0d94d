"""Generation on an OpenAI-compatible server instead of in-process: the scale-out path.

vLLM serves the base model and the LoRA adapters side by side (``vllm serve BASE --enable-lora
--lora-modules mine=/adapters/mine``) and picks the adapter by the request's model name; this backend
does the same: the RAG column asks for the base model's name, the fine-tuned columns for the adapter's.
Both are a :class:`~pipelines.generation.backend.GenerationBackend`, so the arena, the judge and the pair
writer use it unchanged.

An adapter folder (a trained or DPO-improved version) is loaded into the server at run time through vLLM's
``POST /v1/load_lora_adapter`` (``{"lora_name", "lora_path"}``; vLLM offers it when started with
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``): the server must read the folder at the same path (a shared volume),
and its rank must not exceed the server's ``--max-lora-rank`` (16 by default), which is checked here first.

As many questions go in at once as the server batches (``concurrent_requests``): the configured number, else
half the limit the server states (TGI's ``/info``, llama.cpp's ``/props``), else 32.

Example::

    backend = OpenAICompatibleBackend("http://vllm:8000/v1", "Qwen/Qwen2.5-1.5B-Instruct")
    backend.load_adapter("mine")                          # the name given to --lora-modules
    backend.load_adapter(Path("/shared/adapters/v2"))     # a folder: loaded into the server now
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from pipelines.common.events import RowFailure
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.requests import GenerationRequest

DEFAULT_CONCURRENCY = 32  # questions; vLLM batches far more sequences (--max-num-seqs) and says nothing of it
COLUMNS_PER_QUESTION = 2  # as the in-process engines count a question's rows


class ServerAdapterError(ValueError):
    """An adapter could not be put on the server; the message says why and what to set."""


def adapter_rank(folder: Path) -> int:
    """The largest LoRA rank in a PEFT folder's ``adapter_config.json`` (``r`` and any ``rank_pattern``)."""
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ServerAdapterError(f"{folder.name}: adapter_config.json is missing or not JSON ({exc})") from exc
    ranks = [config.get("r"), *(config.get("rank_pattern") or {}).values()]
    numbers = [rank for rank in ranks if isinstance(rank, int) and not isinstance(rank, bool)]
    if not numbers:
        raise ServerAdapterError(f"{folder.name}: adapter_config.json gives no LoRA rank (r)")
    return max(numbers)


class OpenAICompatibleBackend:
    """A ``GenerationBackend`` on a server: each adapter slot names a model the server serves."""

    model_id: str
    adapter_ids: dict[str, str]
    loads_adapter_folders = True  # a folder is loaded into the server at run time (/v1/load_lora_adapter)

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 120.0,
                 concurrency: int | None = None, max_lora_rank: int = 16) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=1)
        self.base_url = base_url
        self.api_key = api_key
        self.model_id = model
        self.precision = f"served at {base_url}"
        self.adapter_models: dict[str, str] = {}  # column slot -> served model name
        self.adapter_ids: dict[str, str] = {}
        self.adapter_paths: dict[str, Path] = {}  # column slot -> the folder loaded at run time (DPO starts there)
        self.max_lora_rank = max_lora_rank
        self._concurrency = concurrency

    @property
    def location(self) -> str:
        return self.base_url

    @property
    def server_root(self) -> str:
        """The server's address without the API's ``/v1``: where vLLM, TGI and llama.cpp put their own routes."""
        return self.base_url.rstrip("/").removesuffix("/v1")

    @property
    def concurrent_requests(self) -> int:
        """Questions worth letting in at once: the server batches them, so one at a time would leave it idle."""
        if getattr(self, "_concurrency", None) is None:  # asked once, on first use (the constructor asks nothing)
            self._concurrency = self._server_concurrency() or DEFAULT_CONCURRENCY
        return self._concurrency

    def _server_concurrency(self) -> int | None:
        """Half the sequences the server says it runs at once (TGI, llama.cpp); None where it says nothing."""
        for path, key in (("/info", "max_concurrent_requests"), ("/props", "total_slots")):
            try:
                answer = httpx.get(self.server_root + path, headers=self._headers(), timeout=3.0)
                limit = answer.json().get(key) if answer.status_code == 200 else None
            except (httpx.HTTPError, ValueError, AttributeError):
                continue
            if isinstance(limit, int) and limit > 0:
                return max(1, limit // COLUMNS_PER_QUESTION)
        return None

    def _headers(self) -> dict[str, str]:
        key = getattr(self, "api_key", None)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_models

    def load_adapter(self, source: str | Path, name: str = FINETUNED_ADAPTER) -> str:
        """Point a column slot at a served model name (a vLLM LoRA module, or any model the server serves), or load
        an adapter folder (a :class:`~pathlib.Path`) into the server first; the slot keeps its adapter on failure."""
        if isinstance(source, Path):
            served = self._load_into_server(source)
            self.adapter_paths[name] = source
        else:
            served = str(source)
            if not served:
                raise ServerAdapterError("No adapter model name: set ARENA_GENERATION_ADAPTER_MODEL to the name the "
                                         f"server at {self.base_url} serves the adapter under (vLLM --lora-modules).")
            self.adapter_paths.pop(name, None)
        self.adapter_models[name] = served
        self.adapter_ids[name] = f"{Path(served).name or served}@{self.base_url}"
        return self.adapter_ids[name]

    def _load_into_server(self, folder: Path) -> str:
        """``POST /v1/load_lora_adapter`` with the folder's name as the adapter's model name; the served name.

        A name the server already holds is taken as loaded: another replica loaded the same folder first."""
        rank = adapter_rank(folder)
        if rank > self.max_lora_rank:
            allowed = _allowed_rank(rank)
            raise ServerAdapterError(
                f"{folder.name} has LoRA rank {rank}, above the server's limit of {self.max_lora_rank}: start vLLM "
                f"with --max-lora-rank {allowed} and set ARENA_GENERATION_MAX_LORA_RANK={allowed}, or train with a "
                "rank of at most the limit.")
        name = folder.name
        try:
            answer = httpx.post(f"{self.server_root}/v1/load_lora_adapter", headers=self._headers(), timeout=120.0,
                                json={"lora_name": name, "lora_path": str(folder.resolve())})
        except httpx.HTTPError as exc:
            raise ServerAdapterError(f"The server at {self.base_url} did not answer the adapter load: {exc}") from exc
        if answer.status_code == 200:
            return name
        detail = _error_text(answer)
        if "already been loaded" in detail:
            return name
        if answer.status_code in (404, 405) and "adapter" not in detail.lower():
            raise ServerAdapterError(
                f"The server at {self.base_url} does not load adapters at run time (HTTP {answer.status_code} on "
                "/v1/load_lora_adapter): start vLLM with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or "
                "serve the adapter with --lora-modules NAME=FOLDER and set ARENA_GENERATION_ADAPTER_MODEL=NAME.")
        raise ServerAdapterError(f"The server at {self.base_url} refused adapter {name} "
                                 f"(HTTP {answer.status_code}): {detail}. It reads the folder at {folder.resolve()}: "
                                 "the same path must hold it there (a shared volume).")

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


def _allowed_rank(rank: int) -> int:
    """The smallest of vLLM's accepted ``--max-lora-rank`` values (8, 16, 32, ...) that holds ``rank``."""
    return next((value for value in (8, 16, 32, 64, 128, 256, 320, 512) if value >= rank), rank)


def _error_text(answer: httpx.Response) -> str:
    """The server's error message: vLLM answers ``{"message"}`` or ``{"error": {"message"}}``, FastAPI
    ``{"detail"}``, others plain text."""
    try:
        body = answer.json()
    except ValueError:
        return answer.text.strip()[:500]
    if isinstance(body, dict):
        error = body.get("error")
        for value in (error.get("message") if isinstance(error, dict) else error, body.get("message"),
                      body.get("detail")):
            if isinstance(value, str) and value:
                return value[:500]
    return json.dumps(body)[:500]
