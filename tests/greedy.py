"""Is an answer greedy under its own model and adapter? The check the batching tests make where two kernels may
round a near tie differently.

A batch of another shape sums in another order, so its logits differ from a row's decoded alone in the last bits
(measured here: 0.02 between " lasts" and " is" at logits of 15.6 on the 4-bit model, and up to 0.15 on
llama.cpp). A near-tied greedy token can flip, and the answers part ways from there. A row mixed up with another
session's, reading the wrong cache positions or the wrong adapter, instead picks tokens several logits below the
best (4 to 18 measured). So the test evaluates the prompt and the answer once, in one plain forward pass, and asks
how far each answer token's logit lies below the best token's.

Usage::

    gaps = transformers_gaps(backend, request.messages, answer, adapter=FINETUNED_ADAPTER)
    assert max(gaps) < NOISE
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from pipelines.generation.backend import FINETUNED_ADAPTER

#: Greedy answers sit within 0.15 of the best logit under their own adapter; another adapter's answer, or a row
#: that read another's positions, lies 4 to 18 below it somewhere.
NOISE = 0.5


def gaps_of(score_rows: Sequence, tokens: Sequence[int]) -> list[float]:
    """Per token: the best logit of its row minus the token's own (0 for the greedy pick)."""
    return [float(row.max() - row[token]) for row, token in zip(score_rows, tokens, strict=True)]


def transformers_gaps(backend, messages: list[dict[str, str]], answer: str, adapter: str | None) -> list[float]:
    """The gaps of ``answer`` after ``messages`` on the transformers engine's model, with ``adapter`` (None: the
    base model), in one forward pass over the prompt and the answer."""
    import torch

    tokenizer = backend.tokenizer
    prompt = tokenizer(backend.render_prompt(messages), add_special_tokens=False).input_ids
    tokens = tokenizer(answer, add_special_tokens=False).input_ids
    model = backend.model
    with backend.lock, torch.no_grad():
        if adapter is not None:
            model.set_adapter(adapter)
        with model.disable_adapter() if adapter is None else contextlib.nullcontext():
            logits = model(input_ids=torch.tensor([prompt + tokens])).logits[0]
    return gaps_of(logits[len(prompt) - 1: len(prompt) - 1 + len(tokens)], tokens)


def llama_threads() -> dict[str, int]:
    """llama-cpp-python's high-level ``Llama`` on the threads our engine uses (``engine_threads``: one per test
    worker). Its own default evaluates a prompt on every core, whose threads spin-wait on a busy machine (the
    suite's other worker): an evaluation of 61 tokens took 7-13 s there instead of 0.4 s."""
    from pipelines.generation.llama_cpp_backend import engine_threads

    count = engine_threads()
    return {"n_threads": count, "n_threads_batch": count}


def llama_cpp_reference(gguf_file: Path, lora: Path | None):
    """llama-cpp-python's own evaluation of the served GGUF with ``lora`` (None: the base), logits of every
    position: what :func:`llama_cpp_gaps` reads."""
    from llama_cpp import Llama

    return Llama(model_path=str(gguf_file), n_ctx=1024, logits_all=True, verbose=False,
                 lora_path=str(lora) if lora else None, **llama_threads())


def llama_cpp_gaps(context, tokenizer, prompt_text: str, answer: str) -> list[float]:
    """The gaps of ``answer`` after ``prompt_text`` in llama-cpp-python's own evaluation (a high-level ``Llama``
    made with ``logits_all=True`` and the adapter under test)."""
    prompt = tokenizer(prompt_text, add_special_tokens=False).input_ids
    tokens = tokenizer(answer, add_special_tokens=False).input_ids
    context.reset()
    context.eval(prompt + tokens)
    return gaps_of(context.scores[len(prompt) - 1: len(prompt) - 1 + len(tokens)], tokens)


def assert_as_alone_or_greedy(backend, request, batched: str, alone: str) -> None:
    """A row decoded in a batch gives the answer it gives decoded alone; where the two part (a batch of another
    shape rounded a near tie the other way), both are greedy on ``request``'s own adapter within :data:`NOISE`
    and not on the other one (base <-> fine-tuned), which a mixed-up row is not."""
    if batched == alone:
        return
    other = None if request.adapter else FINETUNED_ADAPTER
    for answer in (batched, alone):
        assert max(transformers_gaps(backend, request.messages, answer, request.adapter)) < NOISE, (answer, alone)
        assert max(transformers_gaps(backend, request.messages, answer, other)) > 2 * NOISE, (answer, alone)
