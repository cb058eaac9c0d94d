"""The running decode batch on llama.cpp: rows join, decode one token per step together, and leave when they end.

The llama.cpp counterpart of :class:`~.decode_batch.DecodeBatch`, with the same methods, so the same
:class:`~.batcher.ContinuousBatcher` batches every session's questions on either engine. llama.cpp applies a
LoRA adapter per *context*, not per sequence, so the one model (:class:`LlamaCppModel`) has one context per
adapter file (and one without): each row is a sequence (``seq_id``) of its adapter's context, and a step runs
one ``llama_decode`` per context with live rows. A sequence's KV cells are freed the moment its row ends.

Tokens are chosen here, not by llama.cpp's sampler: each row is a :class:`~.decode_row.DecodeRow` (stop rule,
loop guard, copy rule, temperature) picking from llama.cpp's logits.

Measured here (SmolLM2-135M Q4_1, 2 threads): one decode step of 1/2/4/8/16 sequences took 12/21/34/52/107 ms,
so eight rows get 1.9 times the tokens per second of one.

Example::

    model = LlamaCppModel(gguf_file, threads=2, max_rows=16).start()
    batch = LlamaCppBatch(model, tokenizer, adapter_files.__getitem__, render_prompt)
    with batch.holding():
        batch.join(0, GenerationRequest(messages), max_new_tokens=64)
        while batch.row_ids:
            for row_id, delta in batch.step():  # text deltas; None when that row ended
                print(delta or "")
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from pipelines.common.events import RowFailure
from pipelines.generation.decode_row import DecodeRow, eos_ids
from pipelines.generation.requests import GenerationRequest

log = logging.getLogger(__name__)

#: KV cells per row each context is sized for; a context's cells are shared by its rows, so one long row may
#: use more (up to the model's trained length), and a row that finds too few free cells fails with a message.
ROW_TOKENS = 1024
#: Tokens one ``llama_decode`` call takes (a longer prompt is prefilled in chunks of this size).
CHUNK_TOKENS = 512
#: llama.cpp's limit on sequences per context (LLAMA_MAX_SEQ).
MAX_SEQUENCES = 256
_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}  # ggml_log_level -> logging
_llama_log = logging.getLogger("llama.cpp")
_llama_log.setLevel(logging.ERROR)  # llama.cpp is chatty at warning level about its own configuration


class LlamaCppError(RuntimeError):
    """llama.cpp refused something (a model, an adapter, a decode); the message says what."""


class LlamaCppModel:
    """One GGUF model in llama.cpp, with a context per LoRA adapter file (``None``: the base model).

    The constructor is cheap; :meth:`start` loads the weights. Contexts are made on first use and share the
    model's weights; :meth:`drop_adapter` frees an adapter's context once no slot uses it.
    """

    def __init__(self, gguf_file: Path, threads: int, max_rows: int) -> None:
        self.gguf_file = gguf_file
        self.threads = threads
        self.max_rows = min(max(max_rows, 4), MAX_SEQUENCES)  # sequences per context (a question alone has 2-4)
        self.cells = self.max_rows * ROW_TOKENS  # KV cells of each context, shared by its rows
        self.lock = threading.RLock()  # one batch step, row change or context change at a time
        self.n_vocab = 0
        self.n_ctx_train = 0  # positions the model was trained for: no row runs past them
        self._model: Any = None
        self._contexts: dict[Path | None, Any] = {}
        self._adapters: dict[Path, Any] = {}

    def start(self) -> LlamaCppModel:
        import llama_cpp

        _route_llama_cpp_log()
        llama_cpp.llama_backend_init()
        self._model = llama_cpp.llama_model_load_from_file(str(self.gguf_file).encode(),
                                                           llama_cpp.llama_model_default_params())
        if not self._model:
            raise LlamaCppError(f"llama.cpp could not load {self.gguf_file}")
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        self.n_ctx_train = llama_cpp.llama_model_n_ctx_train(self._model)
        try:
            self.context(None)
        except LlamaCppError:
            self.close()
            raise
        return self

    def context(self, lora: Path | None) -> Any:
        """The context of this adapter file (made now if new: a mismatched adapter is refused here)."""
        import llama_cpp

        if lora in self._contexts:
            return self._contexts[lora]
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = self.cells, CHUNK_TOKENS, CHUNK_TOKENS
        params.n_seq_max, params.kv_unified = self.max_rows, True
        params.n_threads = params.n_threads_batch = self.threads
        context = llama_cpp.llama_init_from_model(self._model, params)
        if not context:
            raise LlamaCppError("llama.cpp could not make a context")
        if lora is not None:
            adapter = self._adapters.get(lora) or llama_cpp.llama_adapter_lora_init(self._model, str(lora).encode())
            if not adapter:
                llama_cpp.llama_free(context)
                raise LlamaCppError(f"llama.cpp refused the LoRA file {lora.name} for {self.gguf_file.name}")
            self._adapters[lora] = adapter
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
            if llama_cpp.llama_set_adapters_lora(context, adapters, 1, (ctypes.c_float * 1)(1.0)):
                llama_cpp.llama_free(context)
                raise LlamaCppError(f"llama.cpp could not apply the LoRA file {lora.name}")
        self._contexts[lora] = context
        return context

    def drop_adapter(self, lora: Path) -> None:
        """Free this adapter's context and weights (no row may be decoding on it)."""
        import llama_cpp

        if (context := self._contexts.pop(lora, None)) is not None:
            llama_cpp.llama_free(context)
        if (adapter := self._adapters.pop(lora, None)) is not None:
            llama_cpp.llama_adapter_lora_free(adapter)

    def free_sequence(self, lora: Path | None, seq_id: int) -> None:
        """Free the KV cells of one sequence of this adapter's context."""
        import llama_cpp

        if (context := self._contexts.get(lora)) is not None:
            llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(context), seq_id, -1, -1)

    def close(self) -> None:
        import llama_cpp

        for lora in [lora for lora in self._contexts if lora is not None]:
            self.drop_adapter(lora)
        if (context := self._contexts.pop(None, None)) is not None:
            llama_cpp.llama_free(context)
        if self._model is not None:
            llama_cpp.llama_model_free(self._model)
            self._model = None


@dataclass
class _Sequence:
    """A row decoding as one sequence of its adapter's context."""

    decode: DecodeRow
    lora: Path | None
    seq_id: int
    position: int  # where its next token goes
    logits: torch.Tensor


class LlamaCppBatch:
    """The rows decoding together on llama.cpp; between steps rows may join or leave (a ``StepBatch``)."""

    def __init__(self, model: LlamaCppModel, tokenizer: PreTrainedTokenizerBase, adapter_file: Callable[[str], Path],
                 render_prompt: Callable[[list[dict[str, str]]], str]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.adapter_file = adapter_file  # adapter slot -> its GGUF LoRA file
        self.render_prompt = render_prompt
        self._rows: list[_Sequence] = []
        self._eos = eos_ids(tokenizer)
        self._batch: Any = None  # a llama_batch of CHUNK_TOKENS tokens, made on first use

    @property
    def row_ids(self) -> list[int]:
        return [row.decode.row_id for row in self._rows]

    @contextmanager
    def holding(self) -> Iterator[LlamaCppBatch]:
        with self.model.lock:
            yield self

    def join(self, row_id: int, request: GenerationRequest, max_new_tokens: int, temperature: float = 0.0) -> None:
        """Prefill ``request`` as a new sequence of its adapter's context and add its row. A prompt the model
        cannot take, or one the context has no room for now, raises ``ValueError`` (the row fails alone)."""
        lora = self.adapter_file(request.adapter) if request.adapter else None
        ids = self.tokenizer(self.render_prompt(request.messages), add_special_tokens=False).input_ids
        if len(ids) >= self.model.n_ctx_train:
            raise ValueError(f"the prompt has {len(ids)} tokens; the model takes {self.model.n_ctx_train}")
        max_new_tokens = min(max_new_tokens, self.model.n_ctx_train - len(ids))  # the model's own length limit
        neighbours = [row for row in self._rows if row.lora == lora]
        free_cells = self.model.cells - sum(row.position + row.decode.max_new_tokens - row.decode.picked
                                            for row in neighbours)
        if len(ids) + max_new_tokens > free_cells:
            raise ValueError(f"the answers being written fill llama.cpp's context ({self.model.cells} tokens); "
                             "ask again in a moment")
        free_ids = sorted(set(range(self.model.max_rows)) - {row.seq_id for row in neighbours})
        if not free_ids:
            raise ValueError(f"llama.cpp's context already decodes {self.model.max_rows} rows; ask again in a moment")
        seq_id = free_ids[0]
        decode = DecodeRow.start(row_id, request, self.tokenizer, max_new_tokens, temperature, self._eos)
        with self.model.lock:
            context = self.model.context(lora)
            try:
                for start in range(0, len(ids), CHUNK_TOKENS):
                    chunk = ids[start:start + CHUNK_TOKENS]
                    self._decode(context, [(token, start + i, seq_id, start + i == len(ids) - 1)
                                           for i, token in enumerate(chunk)])
                logits = self._logits(context, len(chunk) - 1)
            except BaseException:
                self.model.free_sequence(lora, seq_id)
                raise
        self._rows.append(_Sequence(decode, lora, seq_id, len(ids), logits))

    def leave(self, row_ids: set[int]) -> None:
        """Drop these rows now (a cancelled request frees its KV cells before the next step)."""
        with self.model.lock:  # the batcher may call this outside holding(), after a failure
            for row in [row for row in self._rows if row.decode.row_id in row_ids]:
                self._rows.remove(row)
                self.model.free_sequence(row.lora, row.seq_id)

    def step(self) -> list[tuple[int, str | RowFailure | None]]:
        """Pick one token per row, return ``(row_id, delta)`` for the text it adds (``None``: the row ended;
        a ``RowFailure``: it failed alone and ended), free the ended rows, and run the others one position on
        (one ``llama_decode`` per adapter context)."""
        out: list[tuple[int, str | RowFailure | None]] = []
        fed: dict[Path | None, list[tuple[_Sequence, int]]] = {}
        for row in list(self._rows):
            try:  # a row whose rules fail ends alone, with a RowFailure
                token = row.decode.pick(row.logits)
                deltas, ended = row.decode.accept(token)
            except Exception as exc:
                log.exception("row %d failed", row.decode.row_id)
                out.append((row.decode.row_id, RowFailure(f"{type(exc).__name__}: {exc}")))
                deltas, ended = [], True
            out += [(row.decode.row_id, delta) for delta in deltas]
            if ended:
                self.leave({row.decode.row_id})
            else:
                fed.setdefault(row.lora, []).append((row, token))
        for lora, rows in fed.items():
            context = self.model.context(lora)
            self._decode(context, [(token, row.position, row.seq_id, True) for row, token in rows])
            for index, (row, _token) in enumerate(rows):
                row.logits = self._logits(context, index)
                row.position += 1
        return out

    def _decode(self, context: Any, items: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, seq_id, wants_logits)`` items."""
        import llama_cpp

        if self._batch is None:
            self._batch = llama_cpp.llama_batch_init(CHUNK_TOKENS, 0, 1)
        batch = self._batch
        batch.n_tokens = len(items)
        for i, (token, position, seq_id, wants_logits) in enumerate(items):
            batch.token[i], batch.pos[i], batch.logits[i] = token, position, wants_logits
            batch.seq_id[i][0], batch.n_seq_id[i] = seq_id, 1
        if (status := llama_cpp.llama_decode(context, batch)) != 0:
            raise LlamaCppError(f"llama_decode returned {status} (1: no free KV cells; <0: an error)")

    def _logits(self, context: Any, index: int) -> torch.Tensor:
        """The next-token logits of the ``index``-th output of the last decode, as a tensor of our own."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(context, index)
        return torch.from_numpy(np.ctypeslib.as_array(pointer, shape=(self.model.n_vocab,)).copy())

    def close(self) -> None:
        import llama_cpp

        with self.model.lock:
            if self._batch is not None:
                llama_cpp.llama_batch_free(self._batch)
                self._batch = None


def _log_from_llama_cpp(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log lines, at their own level, to the ``llama.cpp`` logger (errors only by default).
    llama-cpp-python's own router maps ggml's levels one off (its warnings print as errors, its errors hide)."""
    _llama_log.log(_LEVELS.get(level, logging.DEBUG), "%s", text.decode("utf-8", "replace").rstrip())


_log_router: list[Any] = []  # the ctypes callback, kept alive as long as llama.cpp may call it


def _route_llama_cpp_log() -> None:
    import llama_cpp

    if not _log_router:
        _log_router.append(llama_cpp.llama_log_callback(_log_from_llama_cpp))
        llama_cpp.llama_log_set(_log_router[0], ctypes.c_void_p(0))
