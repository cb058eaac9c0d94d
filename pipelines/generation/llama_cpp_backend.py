"""Generation on llama.cpp (llama-cpp-python): the offline model's GGUF weights, adapters as GGUF LoRA.

llama.cpp serves the shipped Q4_1 weights re-quantised once to Q8_0 (:func:`serving_gguf`: faster than Q4_1 here
and nearly lossless), where the transformers engine de-quantises them and runs NF4 through bitsandbytes; on these
CPUs it decodes several times faster (``bench/generation.py``). The PEFT adapters the
training command makes are converted with llama.cpp's own converter (:mod:`.gguf_lora`), so training, DPO and
activating an adapter work as on the transformers engine. Rows decode in a :class:`~.llama_cpp_batch.LlamaCppBatch`
(each row its own adapter, stop rule and copy rule), and with batching across sessions the same
:class:`~.batcher.ContinuousBatcher` lets every session's questions share its decode steps.

Example::

    backend = LlamaCppBackend.load(Settings(engine="llama.cpp"))
    backend.load_adapter(Path("assets/adapters/lumenhollow-qlora"))
    backend.batch_across_sessions(max_rows=16)         # optional: what the app does by default
    for row, text in backend.stream([GenerationRequest(messages), GenerationRequest(messages, "finetuned")], 64):
        print(row, text or "")
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from pipelines.common.atomic_file import replaced_atomically
from pipelines.common.events import RowFailure
from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.batcher import ContinuousBatcher
from pipelines.generation.decode_row import render_chat
from pipelines.generation.gguf_lora import AdapterConversionError, gguf_lora_file
from pipelines.generation.llama_cpp_batch import LlamaCppBatch, LlamaCppError, LlamaCppModel
from pipelines.generation.models import ModelLoadError, adapter_id, materialize_offline_model, offline_gguf_file
from pipelines.generation.requests import GenerationRequest

#: Weight formats the engine serves the offline model in, and llama.cpp's file type for each.
WEIGHT_FORMATS = {"f16": "LLAMA_FTYPE_MOSTLY_F16", "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0", "q4_1": None}


def engine_threads() -> int:
    """The threads llama.cpp computes with: torch's count (its default is one per core; ``OMP_NUM_THREADS`` sets it),
    so both engines take the same share of the machine."""
    return max(1, torch.get_num_threads())


def serving_gguf(shipped: Path, cache_dir: Path, weights: str) -> Path:
    """The GGUF the engine serves: the shipped Q4_1 file, or a copy in another format written once by llama.cpp.

    Measured here (2 threads): a 101-token prompt prefilled in 344-467 ms from the Q4_1 file as it ships, 190-221
    ms as F16 (every Q4_1 weight exactly) and 203-212 ms as Q8_0; 64-token answers decoded at 81, 63 and 92 tokens/s
    (``bench/generation.py``). Q4_1 has no fast kernels on these CPUs, so Q8_0 serves by default: the shipped
    weights rounded to 8 bits (an error below 1/250 of each 32-weight block's largest, far under the 4-bit step).
    """
    import llama_cpp

    if WEIGHT_FORMATS[weights] is None:
        return shipped
    target = cache_dir / "models" / f"{shipped.stem.rsplit('.', 1)[0]}.{weights.upper()}.gguf"
    if target.is_file():
        return target
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, WEIGHT_FORMATS[weights])
    params.allow_requantize = True  # from Q4_1: to F16 exactly, to Q8_0 with 8-bit rounding of 4-bit values
    params.nthread = engine_threads()
    with replaced_atomically(target) as partial:
        if llama_cpp.llama_model_quantize(str(shipped).encode(), str(partial).encode(), ctypes.byref(params)) != 0:
            raise ModelLoadError(f"llama.cpp could not write {shipped.name} as {weights}")
    return target


def llama_cpp_installed() -> bool:
    """Whether llama-cpp-python can be imported here (the setup script builds it from source once)."""
    return importlib.util.find_spec("llama_cpp") is not None


class LlamaCppBackend:
    """A ``GenerationBackend`` on llama.cpp: one GGUF base model, adapter slots holding GGUF LoRA files."""

    model_id: str
    adapter_ids: dict[str, str]
    loads_adapter_folders = True  # PEFT folders are converted on load: training, DPO and activation work
    location = "in process (llama.cpp)"

    def __init__(self, model: LlamaCppModel, tokenizer: PreTrainedTokenizerBase, model_id: str, *,
                 base_folder: Path, cache_dir: Path) -> None:
        self.llama = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.base_folder = base_folder  # the Hugging Face folder of the same weights (the converter reads it)
        self.cache_dir = cache_dir
        self.adapter_ids: dict[str, str] = {}
        self.adapter_paths: dict[str, Path] = {}
        self.adapter_files: dict[str, Path] = {}  # slot -> its GGUF LoRA file
        self.batch = LlamaCppBatch(model, tokenizer, self.adapter_files.__getitem__, self.render_prompt)
        self.batcher: ContinuousBatcher | None = None

    @classmethod
    def load(cls, settings: Settings) -> LlamaCppBackend:
        """The offline model's GGUF on llama.cpp (a broken file or a missing llama-cpp-python fails here)."""
        if not llama_cpp_installed():
            raise ModelLoadError("The llama.cpp engine needs llama-cpp-python: run `bash scripts/setup.sh` "
                                 "(it builds it once), or set ARENA_ENGINE=transformers.")
        if settings.model_id != OFFLINE_MODEL:
            raise ModelLoadError(f"The llama.cpp engine serves the offline GGUF model only; for "
                                 f"'{settings.model_id}' set ARENA_ENGINE=transformers (or auto).")
        base_folder = materialize_offline_model(settings.cache_dir)
        tokenizer = AutoTokenizer.from_pretrained(base_folder)
        gguf = serving_gguf(offline_gguf_file(), settings.cache_dir, settings.llama_cpp_weights)
        model = LlamaCppModel(gguf, threads=engine_threads(), max_rows=settings.batch_rows)
        try:
            model.start()
        except LlamaCppError as exc:
            raise ModelLoadError(str(exc)) from exc
        backend = cls(model, tokenizer, settings.model_id, base_folder=base_folder, cache_dir=settings.cache_dir)
        atexit.register(backend.close)  # llama.cpp's memory freed while the interpreter can still call it
        return backend

    @property
    def precision(self) -> str:
        return f"llama.cpp GGUF {self.llama.gguf_file.stem.rsplit('.', 1)[-1]}"

    def is_live(self) -> bool:
        return True

    def render_prompt(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.tokenizer, messages)

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_ids

    def load_adapter(self, path: Path, name: str = FINETUNED_ADAPTER) -> str:
        """Convert the PEFT adapter at ``path`` to GGUF LoRA (cached) and put it in slot ``name``. Like the
        transformers engine, the load waits for the answers being decoded, which end on the adapter they
        started with."""
        path = Path(path)
        try:
            lora = gguf_lora_file(path, self.base_folder, self.cache_dir)
        except AdapterConversionError as exc:
            raise ModelLoadError(f"Adapter at {path} could not be loaded on llama.cpp: {exc}") from exc
        pause = self.batcher.paused() if self.batcher is not None else contextlib.nullcontext()
        with pause, self.llama.lock:
            try:
                self.llama.context(lora)  # llama.cpp refuses a mismatched adapter here
            except LlamaCppError as exc:
                raise ModelLoadError(f"Adapter at {path} could not be loaded on llama.cpp: {exc}") from exc
            previous = self.adapter_files.get(name)
            self.adapter_files[name] = lora
            self.adapter_ids[name] = adapter_id(path)
            self.adapter_paths[name] = path
            if previous is not None and previous not in self.adapter_files.values():
                self.llama.drop_adapter(previous)
        return self.adapter_ids[name]

    @property
    def concurrent_requests(self) -> int:
        """As for the transformers engine: enough questions to fill the batch with two columns each."""
        return max(1, self.batcher.max_rows // 2) if self.batcher is not None else 1

    def batch_across_sessions(self, max_rows: int) -> None:
        """Decode the rows of every caller's request together from now on (see :mod:`.batcher`)."""
        if self.batcher is None:
            self.batcher = ContinuousBatcher(self.batch, max_rows=min(max_rows, self.llama.max_rows))

    def close(self) -> None:
        """Stop the batching thread and free llama.cpp's memory (safe to call twice)."""
        if self.batcher is not None:
            self.batcher.close()
        with self.llama.lock:
            self.batch.close()
            self.llama.close()

    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        """Decode all rows together; yield ``(row, text_delta)``, ``(row, None)`` when a row ends, and
        ``(row, RowFailure)`` when one row failed (it ends; the others go on). A caller that stops reading
        frees its rows' KV cells at once."""
        for request in requests:
            if request.adapter and request.adapter not in self.adapter_files:
                raise ModelLoadError(f"Adapter '{request.adapter}' is not loaded")
        if self.batcher is not None:
            yield from self.batcher.stream(requests, max_new_tokens, temperature)
        else:
            yield from self._stream_alone(requests, max_new_tokens, temperature)

    def _stream_alone(self, requests: list[GenerationRequest], max_new_tokens: int,
                      temperature: float) -> Iterator[tuple[int, str | RowFailure | None]]:
        """This request's rows alone, in the caller's thread."""
        with self.batch.holding():
            try:
                for row, request in enumerate(requests):
                    try:
                        self.batch.join(row, request, max_new_tokens, temperature)
                    except (ValueError, LlamaCppError) as exc:  # this row fails alone
                        yield row, RowFailure(f"{type(exc).__name__}: {exc}")
                while self.batch.row_ids:
                    yield from self.batch.step()
            finally:
                self.batch.leave(set(self.batch.row_ids))
