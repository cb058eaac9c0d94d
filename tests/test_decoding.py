"""The narrow-batch LM head: same logits as the linear layer it replaces, and in use in the backend."""

import torch
from torch import nn

from pipelines.decoding import NarrowBatchHead, use_narrow_batch_head


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
    from tests.test_models import _generate

    from pipelines.models import FINETUNED_ADAPTER, GenerationRequest
    from pipelines.prompts import plain_messages

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
    for batched, single in zip(together, alone, strict=True):
        assert batched.split()[:3] == single.split()[:3]
