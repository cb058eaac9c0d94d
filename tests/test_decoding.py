"""The narrow-batch LM head: same logits as the linear layer it replaces, and in use in the backend."""

import torch
from torch import nn

from pipelines.generation.decoding import NarrowBatchHead, use_narrow_batch_head
from pipelines.generation.models import FINETUNED_ADAPTER
from pipelines.generation.prompts import plain_messages
from pipelines.generation.requests import GenerationRequest
from tests.greedy import assert_as_alone_or_greedy
from tests.test_models import _generate


def test_head_matches_linear_for_every_row_count_and_under_grad():
    torch.manual_seed(0)
    linear = nn.Linear(64, 1000, bias=True)
    head = NarrowBatchHead(linear)
    for rows in range(1, 7):
        hidden = torch.randn(rows, 1, 64)
        with torch.inference_mode():
            assert head(hidden).shape == (rows, 1, 1000)
            torch.testing.assert_close(head(hidden), linear(hidden), rtol=1e-5, atol=1e-5)
    hidden = torch.randn(3, 1, 64, requires_grad=True)
    head(hidden).sum().backward()  # training keeps a differentiable path
    assert hidden.grad is not None and linear.weight.grad is not None


def test_backend_shares_the_tied_weight_and_a_three_row_batch_answers_as_rows_alone(backend):
    inner = backend.model.get_base_model() if hasattr(backend.model, "get_base_model") else backend.model
    assert isinstance(inner.lm_head, NarrowBatchHead)
    assert inner.lm_head.weight is inner.get_input_embeddings().weight  # tie kept: no second copy
    assert not use_narrow_batch_head(backend.model)  # already swapped: not wrapped twice

    messages = plain_messages("How long is the warranty on a Tessel sensor?", [])
    other = plain_messages("Who founded Lumenhollow?", [])
    requests = [GenerationRequest(messages), GenerationRequest(messages, FINETUNED_ADAPTER),
                GenerationRequest(other, FINETUNED_ADAPTER)]
    together = _generate(backend, requests, tokens=16)
    alone = [_generate(backend, [request], tokens=16)[0] for request in requests]
    for request, batched, single in zip(requests, together, alone, strict=True):  # greedy, batched or alone: equal
        assert_as_alone_or_greedy(backend, request, batched, single)  # but where a near tie rounds the other way
    assert together[0] != together[1]  # the base and the adapter rows kept their own adapters


def test_row_adapters_match_peft_mixed_batches_and_leave_the_model_as_found(backend):
    import torch

    from pipelines.generation.decoding import RowAdapters

    model = backend.model
    names = ["__base__", FINETUNED_ADAPTER, FINETUNED_ADAPTER]
    prompts = ["Who founded Lumenhollow?", "How long is the warranty on a Tessel sensor?", "What is a Tessel?"]
    batch = backend.tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        peft_logits = model(**batch, adapter_names=names).logits[:, -1]
        with RowAdapters(model, names):
            ours = model(**batch).logits[:, -1]
        after = model(**batch, adapter_names=names).logits[:, -1]
        base_alone = model(**batch, adapter_names=["__base__"] * 3).logits[:, -1]
    # 4-bit layers compute in bf16, so a different but equal LoRA sum can round one bf16 step apart.
    assert (ours - peft_logits).abs().max() < 0.02 * peft_logits.abs().max()
    assert torch.equal(ours.argmax(-1), peft_logits.argmax(-1))
    assert torch.equal(after, peft_logits)  # hooks gone and peft's adapters switched back on
    assert torch.equal(ours[0], base_alone[0]) and not torch.allclose(ours[1:], base_alone[1:])


def test_row_adapters_leave_dora_adapters_to_peft(test_settings):
    import pytest
    import torch
    from peft import LoraConfig, get_peft_model

    from pipelines.generation.decoding import RowAdapters
    from pipelines.generation.models import load_causal_lm, resolve_model_path

    base = load_causal_lm(resolve_model_path(test_settings), four_bit=False)
    config = LoraConfig(r=4, use_dora=True, init_lora_weights=False, target_modules=["q_proj", "v_proj"])
    model = get_peft_model(base, config, adapter_name="dora").eval()
    ids = torch.tensor([[1, 2, 3, 4, 5]] * 2)
    # DoRA rescales the weight itself, so a masked B(A(x)) would be silently wrong: peft's own
    # mixed-batch path runs instead, and it refuses DoRA with its own message.
    with torch.inference_mode(), RowAdapters(model, ["__base__", "dora"]), pytest.raises(ValueError, match="DoRA"):
        model(input_ids=ids)
    with torch.inference_mode(), RowAdapters(model, ["dora", "dora"]), pytest.raises(ValueError, match="DoRA"):
        model(input_ids=ids)


def test_an_abandoned_answer_leaves_no_hooks_and_adapters_switched_on(backend):
    from peft.tuners.lora import LoraLayer

    messages = plain_messages("Who founded Lumenhollow?", [])
    stream = backend.stream([GenerationRequest(messages), GenerationRequest(messages, FINETUNED_ADAPTER)], 32)
    next(stream)  # mid-answer: hooks on, peft's adapter layers off
    layers = [m for m in backend.model.modules() if isinstance(m, LoraLayer)]
    assert layers and all(layer._forward_hooks for layer in layers)
    assert all(layer.disable_adapters for layer in layers)
    stream.close()  # the browser went away
    assert not any(layer._forward_hooks or layer._forward_pre_hooks for layer in layers)
    assert not any(layer.disable_adapters for layer in layers)
    assert backend.lock.acquire(blocking=False)
    backend.lock.release()
