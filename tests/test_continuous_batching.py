"""Integration: continuous batching on the real offline model with the shipped adapter.

Requests that arrive while others decode join the running batch, ended and cancelled rows leave it, each row
keeps its adapter, stop rule and copy rule, and every answer is greedy on its own adapter, as the row decoded
alone with batching off is (the session backend has no batcher: ``backend.stream`` is that path); a ruled row's
answer is that row's, word for word (tests/greedy.py says why a free row's may part at a near tie)."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from pipelines.common.events import RowFailure
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.batcher import ContinuousBatcher
from pipelines.generation.decode_batch import DecodeBatch
from pipelines.generation.models import FINETUNED_ADAPTER
from pipelines.generation.prompts import plain_messages
from pipelines.generation.requests import GenerationRequest
from tests.greedy import assert_as_alone_or_greedy
from tests.test_models import _generate

pytestmark = pytest.mark.timeout(600)

PASSAGE = "The Tessel sensor carries a warranty of 14 months from the day it is installed."


def collect(stream, into: dict[int, str]) -> None:
    for row, delta in stream:
        if delta is not None:
            into[row] = into.get(row, "") + delta
        else:
            into.setdefault(row, "")


@pytest.fixture
def batcher(backend):
    batcher = ContinuousBatcher(DecodeBatch(backend), max_rows=8)
    yield batcher
    batcher.close()


def test_requests_joining_mid_decode_answer_as_each_alone_with_their_own_adapters(backend, batcher):
    warranty = plain_messages("How long is the warranty on a Tessel sensor?", [])
    founder = plain_messages("Who founded Lumenhollow?", [])
    reading = [{"role": "user", "content": f"Context: {PASSAGE}\nQuestion: How long is the warranty?\nAnswer:"}]
    first = [GenerationRequest(warranty), GenerationRequest(warranty, FINETUNED_ADAPTER)]
    second = [GenerationRequest(founder, FINETUNED_ADAPTER)]
    third = [GenerationRequest(reading, rules=AnswerRules(max_sentences=1, no_repeat_ngram=4), copy_from=PASSAGE,
                               copy_spans=True)]
    tokens = {0: 24, 1: 16, 2: 20}

    answers: list[dict[int, str]] = [{}, {}, {}]
    stream = batcher.stream(first, tokens[0])
    row, delta = next(stream)  # the first request is decoding ...
    answers[0][row] = delta or ""
    later = [threading.Thread(target=collect, args=(batcher.stream(requests, tokens[i + 1]), answers[i + 1]))
             for i, requests in enumerate((second, third))]
    for thread in later:  # ... when two more arrive
        thread.start()
    collect(stream, answers[0])
    for thread in later:
        thread.join(300)

    assert batcher.largest_batch >= 3, "the later requests never shared a decode step with the first"
    for i, requests in enumerate((first, second, third)):
        for row, request in enumerate(requests):
            (alone,) = _generate(backend, [request], tokens[i])
            if request.copy_from:  # a ruled row picks among the tokens its rule allows: whole answers, on vs off
                assert answers[i][row] == alone
                continue
            # Greedy on its own adapter, as the row decoded alone is: a batch of another shape may round a near tie
            # the other way (seen on AVX-512: " lasts" vs " is", 0.02 apart), a mixed-up row lands far below.
            assert_as_alone_or_greedy(backend, request, answers[i][row], alone)
    assert answers[0][0] != answers[0][1]  # base and adapter rows of one request kept their own adapters
    allowed = set(re.findall(r"\w+", (PASSAGE + " How long is the warranty?").lower()))
    assert set(re.findall(r"\w+", answers[2][0].lower())) <= allowed  # the copy rule held in the shared batch
    assert answers[2][0].rstrip().endswith(".") and answers[2][0].count(".") == 1  # and the one-sentence stop
    assert batcher.rows_decoding == 0 and batcher.batch.row_ids == []  # every ended row left the batch


def test_a_cancelled_request_frees_its_row_and_the_others_decode_on(backend, batcher):
    messages = plain_messages("Tell me everything about Lumenhollow.", [])
    long = batcher.stream([GenerationRequest(messages)], 200)
    short = batcher.submit([GenerationRequest(plain_messages("Who founded Lumenhollow?", []), FINETUNED_ADAPTER)],
                           12)
    next(long)
    steps_before = batcher.steps
    long.close()  # the page closed: its row leaves before the next step
    texts: dict[int, str] = {}
    collect(batcher._drain(short), texts)
    (alone,) = _generate(backend, [GenerationRequest(plain_messages("Who founded Lumenhollow?", []),
                                                     FINETUNED_ADAPTER)], 12)
    assert texts[0] == alone
    assert batcher.steps - steps_before <= 13  # the cancelled 200-token row did not keep the batch stepping
    assert batcher.batch.row_ids == []


def test_an_adapter_load_waits_for_the_answer_in_flight_to_end_on_its_adapter(backend, batcher, test_settings):
    messages = plain_messages("Write a long story about the lighthouse keepers of Lumenhollow.", [])
    request = GenerationRequest(messages, FINETUNED_ADAPTER)
    (alone,) = _generate(backend, [request], 64)
    backend.batcher = batcher  # load_adapter now pauses this batch
    try:
        stream = batcher.stream([request], 64)
        texts = {0: next(stream)[1] or ""}
        steps_when_asked = batcher.steps
        assert batcher.rows_decoding == 1  # still decoding when the load is asked for (64 tokens take seconds)
        backend.load_adapter(test_settings.adapter_path)
        assert batcher.rows_decoding == 0 and batcher.steps > steps_when_asked  # the load waited for the end
        collect(stream, texts)
    finally:
        backend.batcher = None
    assert texts[0] == alone  # the whole answer came from the adapter it started with


def zeroed_adapter(source: Path, target: Path) -> Path:
    """A copy of the adapter with every LoRA B matrix zeroed: same shape, other weights (it answers as the base
    model does), so an answer that switched adapter half-way would show."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = target / "adapter_model.safetensors"
    tensors = load_file(weights)
    save_file({name: t.zero_() if "lora_B" in name else t for name, t in tensors.items()}, weights)
    return target


def test_a_request_arriving_during_an_adapter_load_waits_for_it_and_answers_on_the_new_weights(
        backend, batcher, test_settings, tmp_path):
    in_flight = GenerationRequest(plain_messages("Write a long story about the lighthouse keepers of Lumenhollow.",
                                                 []), FINETUNED_ADAPTER)
    asked = GenerationRequest(plain_messages("Who founded Lumenhollow?", []), FINETUNED_ADAPTER)
    new = zeroed_adapter(test_settings.adapter_path, tmp_path / "zeroed-adapter")
    (old_in_flight,) = _generate(backend, [in_flight], 64)
    (old_asked,) = _generate(backend, [asked], 16)
    texts: dict[int, str] = {}
    arrived: dict[int, str] = {}
    backend.batcher = batcher  # load_adapter now pauses this batch
    try:
        stream = batcher.stream([in_flight], 64)
        texts[0] = next(stream)[1] or ""
        loader = threading.Thread(target=backend.load_adapter, args=(new,))
        loader.start()
        deadline = time.monotonic() + 60
        while not batcher._pauses:  # the load has asked for its pause: it waits for the answer in flight
            assert time.monotonic() < deadline, "the adapter load never asked to pause the batch"
            time.sleep(0.01)
        assert batcher.rows_decoding == 1 and loader.is_alive()
        asker = threading.Thread(target=collect, args=(batcher.stream([asked], 16), arrived))  # during the load
        asker.start()
        collect(stream, texts)
        loader.join(120)
        asker.join(120)
        assert not loader.is_alive() and not asker.is_alive()
        backend.batcher = None
        (new_asked,) = _generate(backend, [asked], 16)  # the new weights, decoded alone
    finally:
        backend.batcher = None
        backend.load_adapter(test_settings.adapter_path)  # the session's backend serves the shipped adapter again
    assert new_asked != old_asked  # the two adapters answer this question differently
    assert texts[0] == old_in_flight  # the answer in flight ended on the adapter it started with
    assert arrived[0] == new_asked  # the request that arrived during the load waited for it, and used it


class BrokenRules(AnswerRules):
    def banned_tokens(self, generated: list[int]) -> set[int]:
        if len(generated) >= 2:
            raise ValueError("rules broke")
        return set()


def test_a_row_whose_rules_fail_ends_alone_and_the_other_column_answers_in_full(backend):
    messages = plain_messages("Who founded Lumenhollow?", [])
    broken, fine = GenerationRequest(messages, rules=BrokenRules()), GenerationRequest(messages, FINETUNED_ADAPTER)
    events = list(backend.stream([broken, fine], 16))
    assert (0, RowFailure("ValueError: rules broke")) in events and (0, None) not in events
    assert "".join(d for row, d in events if row == 1 and isinstance(d, str)) == _generate(backend, [fine], 16)[0]


def test_a_long_row_leaving_takes_its_padding_with_it(backend):
    long = GenerationRequest([{"role": "user", "content": f"Context: {PASSAGE * 8}\nQuestion: How long?\nAnswer:"}])
    short = GenerationRequest(plain_messages("Who founded Lumenhollow?", []), FINETUNED_ADAPTER)
    lengths = [len(backend.tokenizer(backend.render_prompt(r.messages), add_special_tokens=False).input_ids)
               for r in (long, short)]
    batch = DecodeBatch(backend)
    with batch.holding():
        batch.join(0, short, 8)
        batch.join(1, long, 8)  # the short row is padded on the left to the long one
        assert batch.padded_length == max(lengths)
        batch.leave({1})
        assert batch.padded_length == lengths[1]  # only the short row's own tokens are left
        batch.leave({0})
        assert batch.row_ids == [] and batch.padded_length == 0

