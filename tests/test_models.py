"""Integration: the real offline SmolLM2 model with the shipped QLoRA adapter."""

import pytest

from pipelines.generation.models import FINETUNED_ADAPTER, ModelLoadError, adapter_id
from pipelines.generation.prompts import plain_messages
from pipelines.generation.requests import GenerationRequest
from tests.greedy import assert_as_alone_or_greedy


def _generate(backend, requests, tokens=24):
    texts = [""] * len(requests)
    ended = set()
    for row, delta in backend.stream(requests, tokens):
        if delta is None:
            ended.add(row)
        else:
            texts[row] += delta
    assert ended == set(range(len(requests)))
    return texts


def test_base_model_answers(backend):
    (text,) = _generate(backend, [GenerationRequest([{"role": "user", "content": "What is the capital of France?"}])])
    assert "Paris" in text


def test_adapter_changes_the_answer_and_one_batch_serves_both(backend):
    messages = plain_messages("How long is the warranty on a Tessel sensor?", [])
    base, tuned = _generate(backend, [GenerationRequest(messages), GenerationRequest(messages, FINETUNED_ADAPTER)])
    assert base.strip() and tuned.strip()
    assert base != tuned
    (tuned_alone,) = _generate(backend, [GenerationRequest(messages, FINETUNED_ADAPTER)])
    # greedy: a row answers the same whole answer in a batch as alone, or parts at a near tie (tests/greedy.py)
    assert_as_alone_or_greedy(backend, GenerationRequest(messages, FINETUNED_ADAPTER), tuned, tuned_alone)


def test_the_served_model_is_4bit_nf4_not_a_full_precision_fallback(backend, test_settings):
    """A failed bitsandbytes load falls back to full precision with only a warning: this is what catches it."""
    import bitsandbytes as bnb
    import torch

    assert test_settings.quantization == "4bit"
    assert backend.quantized and backend.precision == "4-bit NF4"
    inner = backend.model.get_base_model() if hasattr(backend.model, "get_base_model") else backend.model
    four_bit = [module for module in inner.modules() if isinstance(module, bnb.nn.Linear4bit)]
    assert len(four_bit) >= inner.config.num_hidden_layers  # at least one per decoder layer
    assert {module.weight.quant_type for module in four_bit} == {"nf4"}
    assert {module.weight.dtype for module in four_bit} == {torch.uint8}  # packed 4-bit values, not floats
    # every other linear layer is the LM head (tied to the embeddings) or a LoRA adapter's (full precision)
    full = [name for name, module in inner.named_modules()
            if isinstance(module, torch.nn.Linear) and not isinstance(module, bnb.nn.Linear4bit)
            and "lora_" not in name and "lm_head" not in name]
    assert full == []


def test_unknown_or_missing_adapter_is_refused(backend, tmp_path):
    with pytest.raises(ModelLoadError, match="not loaded"):
        list(backend.stream([GenerationRequest([{"role": "user", "content": "hi"}], "nope")], 4))
    with pytest.raises(ModelLoadError, match=r"adapter_config\.json"):
        backend.load_adapter(tmp_path, name="broken")


def test_adapter_id_names_folder_and_data_hash(test_settings):
    assert adapter_id(test_settings.adapter_path).startswith(test_settings.adapter_path.name + "@")
