"""Generation on llama.cpp (llama-cpp-python): the offline model's GGUF file as it ships, adapters as GGUF LoRA.

llama.cpp decodes the Q4_1 file directly, where the transformers path de-quantises it and runs NF4 through
bitsandbytes; on these CPUs it decodes several times faster (``bench/generation.py``). A LoRA adapter is
applied per llama.cpp *context*, so each row (column) decodes in a context of its own: base rows in contexts
without an adapter, fine-tuned rows in contexts with the adapter's GGUF LoRA (:mod:`.gguf_lora` converts the
PEFT folder with llama.cpp's own converter). Contexts are pooled per adapter and reused. A request's rows
decode in turn, one token each, so the columns stream side by side.

Tokens are chosen here, not by llama.cpp's sampler: the same prompt rendering, stop rule, loop guard, copy
rule and temperature as the in-process batch (:class:`~.decode_row.DecodeRow`), on llama.cpp's logits.

Example::

    backend = LlamaCppBackend.load(Settings(engine="llama.cpp"))
    backend.load_adapter(Path("assets/adapters/lumenhollow-qlora"))
    for row, text in backend.stream([GenerationRequest(messages), GenerationRequest(messages, "finetuned")], 64):
        print(row, text or "")
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from pipelines.common.events import RowFailure
from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.decode_row import DecodeRow, eos_ids, render_chat
from pipelines.generation.gguf_lora import AdapterConversionError, gguf_lora_file
from pipelines.generation.models import ModelLoadError, adapter_id, materialize_offline_model, offline_gguf_file
from pipelines.generation.requests import GenerationRequest

log = logging.getLogger(__name__)

#: Tokens one context holds (prompt + answer); SmolLM2 was trained on 8k, the arena's prompts need far less.
CONTEXT_TOKENS = 4096


def llama_cpp_installed() -> bool:
    """Whether llama-cpp-python can be imported here (it is built from source by the setup script)."""
    return importlib.util.find_spec("llama_cpp") is not None


@dataclass
class _ContextRow:
    """A row decoding in its own llama.cpp context."""

    decode: DecodeRow
    context: Any  # llama_cpp.Llama
    lora: Path | None
    logits: torch.Tensor


class LlamaCppBackend:
    """A ``GenerationBackend`` on llama.cpp: one GGUF base model, adapter slots holding GGUF LoRA files."""

    model_id: str
    adapter_ids: dict[str, str]
    loads_adapter_folders = True  # PEFT folders are converted on load: training, DPO and activation work
    location = "in process (llama.cpp)"
    concurrent_requests = 1  # each context already uses every core; more questions at once only queue there

    def __init__(self, gguf_file: Path, tokenizer: PreTrainedTokenizerBase, model_id: str, *, base_folder: Path,
                 cache_dir: Path, threads: int) -> None:
        self.gguf_file = gguf_file
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.base_folder = base_folder  # the Hugging Face folder of the same weights (the converter reads it)
        self.cache_dir = cache_dir
        self.threads = threads
        self.adapter_ids: dict[str, str] = {}
        self.adapter_paths: dict[str, Path] = {}
        self.adapter_files: dict[str, Path] = {}  # slot -> its GGUF LoRA file
        self._idle: dict[Path | None, list[Any]] = defaultdict(list)  # LoRA file (None: base) -> free contexts
        self._pool_lock = threading.Lock()
        self._eos = eos_ids(tokenizer)

    @classmethod
    def load(cls, settings: Settings) -> LlamaCppBackend:
        """The offline model's GGUF on llama.cpp, with one base context made (a broken file fails here)."""
        if not llama_cpp_installed():
            raise ModelLoadError("The llama.cpp engine needs llama-cpp-python: run `bash scripts/setup.sh` "
                                 "(it builds it once), or set ARENA_ENGINE=transformers.")
        if settings.model_id != OFFLINE_MODEL:
            raise ModelLoadError(f"The llama.cpp engine serves the offline GGUF model only; for "
                                 f"'{settings.model_id}' set ARENA_ENGINE=transformers (or auto).")
        base_folder = materialize_offline_model(settings.cache_dir)
        backend = cls(offline_gguf_file(), AutoTokenizer.from_pretrained(base_folder), settings.model_id,
                      base_folder=base_folder, cache_dir=settings.cache_dir, threads=max(1, torch.get_num_threads()))
        backend._release(None, backend._new_context(None))
        atexit.register(backend.close)  # llama.cpp contexts freed at interpreter exit fail noisily
        return backend

    @property
    def precision(self) -> str:
        quantization = self.gguf_file.stem.rsplit(".", 1)[-1]
        return f"llama.cpp GGUF {quantization}"

    def is_live(self) -> bool:
        return True

    def render_prompt(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.tokenizer, messages)

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_ids

    def load_adapter(self, path: Path, name: str = FINETUNED_ADAPTER) -> str:
        """Convert the PEFT adapter at ``path`` to GGUF LoRA (cached) and put it in slot ``name``; rows already
        decoding finish on the adapter they started with."""
        path = Path(path)
        try:
            lora = gguf_lora_file(path, self.base_folder, self.cache_dir)
            context = self._new_context(lora)  # llama.cpp refuses a mismatched adapter here
        except (AdapterConversionError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"Adapter at {path} could not be loaded on llama.cpp: {exc}") from exc
        with self._pool_lock:
            self.adapter_files[name] = lora
            self.adapter_ids[name] = adapter_id(path)
            self.adapter_paths[name] = path
        self._release(lora, context)
        return self.adapter_ids[name]

    def close(self) -> None:
        """Free every pooled context."""
        with self._pool_lock:
            contexts = [context for pool in self._idle.values() for context in pool]
            self._idle.clear()
        for context in contexts:
            context.close()

    def _new_context(self, lora: Path | None) -> Any:
        from llama_cpp import Llama

        return Llama(model_path=str(self.gguf_file), n_ctx=CONTEXT_TOKENS, n_threads=self.threads,
                     n_threads_batch=self.threads, lora_path=str(lora) if lora else None, verbose=False)

    def _acquire(self, lora: Path | None) -> Any:
        with self._pool_lock:
            pool = self._idle[lora]
            context = pool.pop() if pool else None
        if context is None:
            context = self._new_context(lora)
        context.reset()
        return context

    def _release(self, lora: Path | None, context: Any) -> None:
        """Back to the pool, unless its adapter left every slot (then it is freed)."""
        with self._pool_lock:
            if lora is None or lora in self.adapter_files.values():
                self._idle[lora].append(context)
                return
        context.close()

    def _prefill(self, row_id: int, request: GenerationRequest, max_new_tokens: int,
                 temperature: float) -> _ContextRow:
        lora = self.adapter_files[request.adapter] if request.adapter else None
        ids = self.tokenizer(self.render_prompt(request.messages), add_special_tokens=False).input_ids
        if len(ids) >= CONTEXT_TOKENS:
            raise ValueError(f"the prompt has {len(ids)} tokens; a llama.cpp context holds {CONTEXT_TOKENS}")
        decode = DecodeRow.start(row_id, request, self.tokenizer, min(max_new_tokens, CONTEXT_TOKENS - len(ids)),
                                 temperature, self._eos)
        context = self._acquire(lora)
        try:
            context.eval(ids)
            return _ContextRow(decode, context, lora, _last_logits(context))
        except BaseException:
            self._release(lora, context)
            raise

    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        """Prefill each row in its context, then decode the rows in turn, one token each; yield ``(row, delta)``,
        ``(row, None)`` when a row ends, ``(row, RowFailure)`` when one row failed (the others go on). A caller
        that stops reading frees the contexts at once."""
        for request in requests:
            if request.adapter and request.adapter not in self.adapter_files:
                raise ModelLoadError(f"Adapter '{request.adapter}' is not loaded")
        live: list[_ContextRow] = []
        try:
            for row_id, request in enumerate(requests):
                try:
                    live.append(self._prefill(row_id, request, max_new_tokens, temperature))
                except Exception as exc:  # this row fails alone
                    log.exception("row %d failed to start", row_id)
                    yield row_id, RowFailure(f"{type(exc).__name__}: {exc}")
            while live:
                for row in list(live):
                    deltas, ended = self._step(row)
                    if ended:
                        live.remove(row)
                        self._release(row.lora, row.context)
                    for delta in deltas:
                        yield row.decode.row_id, delta
        finally:
            for row in live:
                self._release(row.lora, row.context)

    def _step(self, row: _ContextRow) -> tuple[list[str | RowFailure | None], bool]:
        """One token for one row: pick it by the row's rules, then feed it to the row's context."""
        try:
            token = row.decode.pick(row.logits)
            deltas, ended = row.decode.accept(token, self._eos)
            if not ended:
                row.context.eval([token])
                row.logits = _last_logits(row.context)
            return list(deltas), ended
        except Exception as exc:
            log.exception("row %d failed", row.decode.row_id)
            return [RowFailure(f"{type(exc).__name__}: {exc}")], True


def _last_logits(context: Any) -> torch.Tensor:
    """The next-token logits of the context's last evaluated position, as a float tensor of our own."""
    import llama_cpp

    pointer = llama_cpp.llama_get_logits_ith(context.ctx, -1)
    return torch.from_numpy(np.ctypeslib.as_array(pointer, shape=(context.n_vocab(),)).copy())
