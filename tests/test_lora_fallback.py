"""The 4-bit -> LoRA fallback of training: where bitsandbytes' NF4 load fails, training goes on with plain LoRA
on a full-precision base, warns, and labels the run (and so the adapter's metadata and the registry) as a LoRA
fallback, never as QLoRA. The 4-bit path is made to fail in transformers' ``BitsAndBytesConfig``; the
model and tokenizer are stand-ins, so nothing is loaded. (tests/test_models.py checks that the served model really
is 4-bit where bitsandbytes works.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BitsAndBytesConfig

from pipelines.generation import models
from pipelines.training.registry import list_adapters
from pipelines.training.sft import TrainingReport, load_training_model, save_adapter

PRECISION = "bfloat16" if torch.cuda.is_available() else "float32"  # what load_causal_lm picks without 4-bit


class StandInModel:
    """What ``from_pretrained`` returns; ``is_loaded_in_4bit`` only when a quantization config was given."""

    def __init__(self, dtype: torch.dtype, four_bit: bool) -> None:
        self.dtype = dtype
        if four_bit:
            self.is_loaded_in_4bit = True

    def to(self, _device: str) -> StandInModel:
        return self

    def save_pretrained(self, folder: Path, selected_adapters: list[str] | None = None) -> None:
        """A minimal complete PEFT folder, for the registry."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
        header = b"{}"
        (folder / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)


class StandInLoader:
    """``AutoModelForCausalLM`` as ``load_causal_lm`` uses it; records each call's keyword arguments."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def from_pretrained(self, path: str, **kwargs) -> StandInModel:
        self.calls.append(kwargs)
        four_bit = "quantization_config" in kwargs
        return StandInModel(torch.uint8 if four_bit else kwargs.get("dtype", torch.float32), four_bit)


class StandInTokenizer:
    pad_token = None
    eos_token = "<|im_end|>"


def no_bitsandbytes(self, *args: object, **kwargs: object) -> None:
    """``BitsAndBytesConfig`` where bitsandbytes is missing or unsupported."""
    raise ImportError("No module named 'bitsandbytes'")


@pytest.fixture()
def stand_ins(monkeypatch) -> StandInLoader:
    """The classes are patched, not the ``transformers`` module's names: its lazy module keeps returning the
    real classes once loaded."""
    loader = StandInLoader()
    monkeypatch.setattr(models, "AutoModelForCausalLM", loader)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", staticmethod(lambda *_args, **_kw: StandInTokenizer()))
    return loader


def test_a_failed_4bit_load_trains_plain_lora_and_says_so(stand_ins, monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(BitsAndBytesConfig, "__init__", no_bitsandbytes)
    with caplog.at_level(logging.WARNING):
        tokenizer, model, quantization = load_training_model("stand-in/model", four_bit=True)
    assert quantization == f"{PRECISION} (LoRA fallback)" and "4-bit" not in quantization
    assert not getattr(model, "is_loaded_in_4bit", False)
    assert stand_ins.calls == [{"dtype": getattr(torch, PRECISION)}]  # the base was loaded once, unquantized
    assert tokenizer.pad_token == tokenizer.eos_token
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("FALLING BACK to full precision" in w and "bitsandbytes" in w for w in warnings), warnings
    assert any("training plain LoRA" in w for w in warnings), warnings

    # the run's label is what the adapter's metadata and the registry's quantization column show
    output = tmp_path / "adapters" / "fallback"
    save_adapter(model, output, TrainingReport(output, steps=2, losses=[2.0, 1.5], quantization=quantization), {})
    (listed,) = list_adapters([tmp_path / "adapters"])
    assert listed.quantization == f"{PRECISION} (LoRA fallback)"


def test_no_fallback_label_when_4bit_works_or_lora_was_asked_for(stand_ins, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_training_model("stand-in/model", four_bit=True)[2] == "4-bit NF4 (QLoRA)"
        assert load_training_model("stand-in/model", four_bit=False)[2] == f"{PRECISION} (LoRA)"
    assert "quantization_config" in stand_ins.calls[0] and "quantization_config" not in stand_ins.calls[1]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
