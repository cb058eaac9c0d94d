"""The running decode batch of the in-process model: rows join (each prompt prefilled alone), decode one token
per step together, and leave when they end, so a request that arrives mid-decode joins at the next step.

Both ways of serving use it: :meth:`~pipelines.generation.models.ModelBackend.stream` with one request's rows
(batching across sessions off), and :class:`~pipelines.generation.batcher.ContinuousBatcher`, whose thread
admits the rows of every session. Each row keeps its own adapter (peft's mixed-adapter batch through
:class:`RowAdapters`), max tokens, temperature, stop rule, loop guard and copy rule.

Example::

    batch = DecodeBatch(backend)
    with batch.holding():                      # the model's lock, and each row's adapter hooked
        batch.join(0, GenerationRequest(messages), max_new_tokens=64)
        while batch.row_ids:
            for row_id, delta in batch.step():  # text deltas; None when that row ended
                print(delta or "")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import torch
from torch.nn import functional
from transformers import DynamicCache, PreTrainedTokenizerBase

from pipelines.common.events import RowFailure
from pipelines.generation.decode_row import DecodeRow, eos_ids
from pipelines.generation.decoding import BASE_ADAPTER, RowAdapters
from pipelines.generation.requests import GenerationRequest

log = logging.getLogger(__name__)


class LoadedModel(Protocol):
    """What a decode batch needs of the backend holding the model (:class:`~.models.ModelBackend`), so this
    module does not import the backend that uses it."""

    model: Any  # the causal LM, with its LoRA adapters once one is loaded
    tokenizer: PreTrainedTokenizerBase
    prefill_kwargs: dict[str, Any]  # extra arguments of a prefill forward (only the last position's logits)
    lock: threading.Lock  # one decode batch, or one adapter load, at a time

    def render_prompt(self, messages: list[dict[str, str]]) -> str: ...


def _pad_left(tensor: torch.Tensor, columns: int, dim: int) -> torch.Tensor:
    """``tensor`` with ``columns`` zeros before it along ``dim`` (the sequence axis)."""
    if columns == 0:
        return tensor
    pad = [0, 0] * (tensor.dim() - 1 - dim) + [columns, 0]
    return functional.pad(tensor, pad)


class KvBatch:
    """The rows' KV caches side by side, left-padded to one length, with the attention mask (0 = padding) and
    each row's next position (its real length): rows join with their own prefill cache and leave by index."""

    def __init__(self) -> None:
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # rows x length
        self.positions: torch.Tensor | None = None  # rows x 1

    @property
    def rows(self) -> int:
        return 0 if self.mask is None else self.mask.shape[0]

    @property
    def length(self) -> int:
        return 0 if self.mask is None else self.mask.shape[1]

    def join(self, cache: DynamicCache, length: int) -> None:
        """Add one row whose cache holds ``length`` tokens (batch of one, no padding) below the others."""
        device = cache.layers[0].keys.device
        ones = torch.ones(1, length, dtype=torch.long, device=device)
        position = torch.tensor([[length]], device=device)
        if self.cache is None:
            self.cache, self.mask, self.positions = cache, ones, position
            return
        longest = max(self.length, length)
        grow, pad_new = longest - self.length, longest - length
        merged = DynamicCache()
        for index, (old, new) in enumerate(zip(self.cache.layers, cache.layers, strict=True)):
            keys = torch.cat([_pad_left(old.keys, grow, 2), _pad_left(new.keys, pad_new, 2)])
            values = torch.cat([_pad_left(old.values, grow, 2), _pad_left(new.values, pad_new, 2)])
            merged.update(keys, values, index)
        self.cache = merged
        self.mask = torch.cat([_pad_left(self.mask, grow, 1), _pad_left(ones, pad_new, 1)])
        self.positions = torch.cat([self.positions, position])

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (in this order), and drop the padding columns no kept row needs."""
        if not rows:
            self.cache = self.mask = self.positions = None
            return
        if rows == list(range(self.rows)):
            return
        index = torch.tensor(rows, device=self.mask.device)
        mask = self.mask.index_select(0, index)
        start = int(mask.any(dim=0).nonzero()[0])
        kept = DynamicCache()
        for layer, entry in enumerate(self.cache.layers):
            kept.update(entry.keys.index_select(0, index)[:, :, start:].contiguous(),
                        entry.values.index_select(0, index)[:, :, start:].contiguous(), layer)
        self.cache, self.mask = kept, mask[:, start:]
        self.positions = self.positions.index_select(0, index)

    def extend(self) -> None:
        """One more column for the token each row is about to be fed."""
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)


class DecodeBatch:
    """The rows decoding together on the in-process model; between steps rows may join or leave."""

    def __init__(self, backend: LoadedModel) -> None:
        self.backend = backend
        self._rows: list[DecodeRow] = []
        self._logits: torch.Tensor | None = None  # rows x vocabulary: each row's next-token logits
        self._kv = KvBatch()
        self._adapters: RowAdapters | None = None
        self._eos = eos_ids(backend.tokenizer)

    @property
    def row_ids(self) -> list[int]:
        return [row.row_id for row in self._rows]

    @property
    def padded_length(self) -> int:
        """Columns of the batch's KV cache (the longest row plus padding), for tests and benchmarks."""
        return self._kv.length

    @contextmanager
    def holding(self) -> Iterator[DecodeBatch]:
        """Hold the model (its lock) with each row's adapter hooked (the hooks read the adapters' weights
        now). Rows stay in the batch when it is released; the batcher releases it only once no row decodes."""
        with self.backend.lock:
            self._adapters = RowAdapters(self.backend.model, self._names())
            try:
                with self._adapters:
                    yield self
            finally:
                self._adapters = None

    def _names(self) -> list[str]:
        return [row.adapter for row in self._rows]

    @torch.inference_mode()
    def join(self, row_id: int, request: GenerationRequest, max_new_tokens: int, temperature: float = 0.0) -> None:
        """Prefill ``request`` alone (no padding: a short prompt never pays for a long one) and add its row."""
        if self._adapters is None:
            raise RuntimeError("DecodeBatch.join needs holding()")
        backend = self.backend
        self._adapters.names = [request.adapter or BASE_ADAPTER]  # this prompt alone
        try:
            prompt = backend.render_prompt(request.messages)
            ids = backend.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
            out = backend.model(input_ids=ids.to(backend.model.device), use_cache=True, **backend.prefill_kwargs)
        finally:
            self._adapters.names = self._names()
        row = DecodeRow.start(row_id, request, backend.tokenizer, max_new_tokens, temperature, self._eos)
        self._kv.join(out.cache, ids.shape[1])
        logits = out.logits[:, -1].float()
        self._logits = logits if self._logits is None else torch.cat([self._logits, logits])
        self._rows.append(row)
        self._adapters.names = self._names()

    def leave(self, row_ids: set[int]) -> None:
        """Drop these rows now (a cancelled request frees its rows before the next step)."""
        self._keep([i for i, row in enumerate(self._rows) if row.row_id not in row_ids])

    def _keep(self, indices: list[int]) -> None:
        if len(indices) == len(self._rows):
            return
        self._rows = [self._rows[i] for i in indices]
        self._kv.keep(indices)
        self._logits = self._logits[indices] if indices else None
        if self._adapters is not None:
            self._adapters.names = self._names()

    @torch.inference_mode()
    def step(self) -> list[tuple[int, str | RowFailure | None]]:
        """Pick one token per row, return ``(row_id, delta)`` for the text it adds (``None``: the row ended;
        a ``RowFailure``: it failed alone and ended), drop the ended rows, and run the others one position on."""
        if not self._rows:
            return []
        out: list[tuple[int, str | RowFailure | None]] = []
        survivors, tokens = [], []
        for index, row in enumerate(self._rows):
            try:  # a row whose rules fail ends alone, with a RowFailure
                token = row.pick(self._logits[index])
                deltas, ended = row.accept(token)
            except Exception as exc:
                log.exception("row %d failed", row.row_id)
                out.append((row.row_id, RowFailure(f"{type(exc).__name__}: {exc}")))
                continue
            out += [(row.row_id, delta) for delta in deltas]
            if not ended:
                survivors.append(index)
                tokens.append(token)
        self._keep(survivors)
        if survivors:
            self._kv.extend()
            fed = torch.tensor(tokens, device=self._logits.device).unsqueeze(1)
            result = self.backend.model(input_ids=fed, attention_mask=self._kv.mask, position_ids=self._kv.positions,
                                        cache=self._kv.cache, use_cache=True)
            self._logits = result.logits[:, -1].float()
            self._kv.positions = self._kv.positions + 1
        return out
