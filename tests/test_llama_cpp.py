"""The llama.cpp engine on the real offline GGUF, with the shipped adapter converted by llama.cpp's own converter.

What must hold: our decode loop on llama.cpp's logits picks what llama.cpp's own greedy sampler picks; each row
of a mixed request answers as it does alone (its own context, its own adapter); the converted LoRA moves the
logits the way the PEFT adapter moves them in transformers; the stop rule, cancellation and one row failing
alone behave as on the transformers engine; and the arena's columns answer through it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.arena.finetuned import BasePipeline, FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.common.events import DoneEvent, RowFailure
from pipelines.common.settings import Settings
from pipelines.feedback.store import FeedbackStore
from pipelines.generation import llama_cpp_backend
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.gguf_lora import gguf_lora_file
from pipelines.generation.llama_cpp_backend import LlamaCppBackend
from pipelines.generation.models import ModelLoadError
from pipelines.generation.requests import GenerationRequest
from pipelines.knowledge.retrieval import HybridRetriever
from pipelines.runtime import choose_engine
from tests.greedy import NOISE, llama_cpp_gaps, llama_cpp_reference, llama_threads

ADAPTER = Path(__file__).resolve().parent.parent / "assets" / "adapters" / "lumenhollow-qlora"
QUESTIONS = ["Who founded Lumenhollow Instruments?", "How long does the Tessel T4's battery last?"]


def ask(text: str, adapter: str | None = None, **kwargs) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": text}], adapter=adapter, **kwargs)


def answers(backend, requests, max_new_tokens=24) -> dict[int, str | RowFailure]:
    texts: dict[int, str | RowFailure] = {row: "" for row in range(len(requests))}
    for row, delta in backend.stream(requests, max_new_tokens):
        if isinstance(delta, RowFailure):
            texts[row] = delta
        elif delta is not None:
            texts[row] += delta
    return texts


@pytest.fixture(scope="module")
def llama(test_settings) -> LlamaCppBackend:
    backend = LlamaCppBackend.load(test_settings.model_copy(update={"engine": "llama.cpp"}))
    backend.load_adapter(ADAPTER)
    yield backend
    backend.close()


def test_auto_picks_llama_cpp_for_the_offline_model_where_it_and_its_converter_are_installed(tmp_path):
    installed = Settings(engine="auto")
    on_cpu = "transformers" if torch.cuda.is_available() else "llama.cpp"  # a GPU runs transformers faster
    assert choose_engine(installed) == on_cpu  # `scripts/setup.sh --dev` installed both here
    assert choose_engine(installed.model_copy(update={"cache_dir": tmp_path})) == "transformers"  # no converter
    assert choose_engine(installed.model_copy(update={"model_id": "Qwen/Qwen2.5-0.5B-Instruct"})) == "transformers"
    assert choose_engine(installed.model_copy(update={"engine": "transformers"})) == "transformers"


def test_a_missing_llama_cpp_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(llama_cpp_backend, "llama_cpp_installed", lambda: False)
    with pytest.raises(ModelLoadError, match=r"needs llama-cpp-python.*setup.sh.*ARENA_ENGINE=transformers"):
        LlamaCppBackend.load(Settings(engine="llama.cpp"))


def test_another_model_id_is_refused_with_what_to_set():
    with pytest.raises(ModelLoadError, match=r"offline GGUF model only.*ARENA_ENGINE=transformers"):
        LlamaCppBackend.load(Settings(engine="llama.cpp", model_id="Qwen/Qwen2.5-0.5B-Instruct"))


@pytest.fixture(scope="module")
def reference(llama):
    """llama-cpp-python's own evaluation (its high-level ``Llama``, logits of every position), per adapter."""
    made = {adapter: llama_cpp_reference(llama.llama.gguf_file, llama.adapter_files[adapter] if adapter else None)
            for adapter in (None, "finetuned")}
    yield made
    for context in made.values():
        context.close()


def greedy_gaps(llama, reference, request: GenerationRequest, answer: str, adapter: str | None) -> list[float]:
    """Per answer token: how far its logit is below the best token's, in llama.cpp's own evaluation of the
    prompt and answer with ``adapter`` (0 everywhere for a greedy answer, up to float noise: tests/greedy.py)."""
    return llama_cpp_gaps(reference[adapter], llama.tokenizer, llama.render_prompt(request.messages), answer)


def test_greedy_rows_pick_the_best_token_of_llama_cpps_own_logits(llama, reference):
    """A wrong position, logits row or adapter would pick tokens far below the best."""
    request = ask(QUESTIONS[0])
    ours = answers(llama, [request], max_new_tokens=20)[0]
    gaps = greedy_gaps(llama, reference, request, ours, None)
    assert len(gaps) >= 10 and max(gaps) < NOISE, gaps


def test_each_row_of_a_mixed_request_decodes_greedily_on_its_own_adapter(llama, reference):
    requests = [ask(QUESTIONS[0]), ask(QUESTIONS[0], "finetuned"), ask(QUESTIONS[1], "finetuned"), ask(QUESTIONS[1])]
    together = answers(llama, requests)
    for request, answer in zip(requests, together.values(), strict=True):
        other = None if request.adapter else "finetuned"
        assert max(greedy_gaps(llama, reference, request, answer, request.adapter)) < NOISE, answer
        assert max(greedy_gaps(llama, reference, request, answer, other)) > 2 * NOISE, answer  # not the other's
    assert together[0] != together[1]


def test_the_converted_lora_moves_the_logits_as_the_peft_adapter_does(llama):
    """The GGUF LoRA's change to the next-token logits points the way the PEFT adapter's change does in
    transformers (same weights, de-quantised there): a wrong scale, transpose or tensor name would not."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    prompt = llama.render_prompt(ask(QUESTIONS[0]).messages)
    ids = llama.tokenizer(prompt, add_special_tokens=False).input_ids
    base_model = AutoModelForCausalLM.from_pretrained(llama.base_folder, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(base_model, str(ADAPTER))
    with torch.inference_mode():
        hf_tuned = peft_model(input_ids=torch.tensor([ids])).logits[0, -1]
        with peft_model.disable_adapter():
            hf_base = peft_model(input_ids=torch.tensor([ids])).logits[0, -1]

    def llama_logits(adapter: str | None) -> torch.Tensor:  # llama-cpp-python's own API, not our batch
        import llama_cpp

        lora = str(llama.adapter_files[adapter]) if adapter else None
        context = llama_cpp.Llama(model_path=str(llama.llama.gguf_file), n_ctx=512, lora_path=lora, verbose=False,
                                  **llama_threads())
        context.eval(ids)
        pointer = llama_cpp.llama_get_logits_ith(context.ctx, -1)
        logits = torch.tensor(np.ctypeslib.as_array(pointer, shape=(context.n_vocab(),)))
        context.close()
        return logits

    cpp_base, cpp_tuned = llama_logits(None), llama_logits("finetuned")
    cpp_change, hf_change = cpp_tuned - cpp_base, hf_tuned - hf_base
    same_direction = torch.cosine_similarity(cpp_change, hf_change, dim=0)
    same_size = cpp_change.norm() / hf_change.norm()  # a wrong LoRA scale (alpha / rank) shows here
    assert same_direction > 0.8, f"cosine of the adapter's logit change, llama.cpp vs transformers: {same_direction}"
    assert 0.75 < same_size < 1.33, f"size of the adapter's logit change, llama.cpp / transformers: {same_size}"
    assert cpp_change.abs().max() > 1.0  # the adapter really changes something


def test_the_stop_rule_cuts_the_answer_where_the_rule_says(llama):
    question = "What does quiet mode do on the Tessel T4?"
    whole = answers(llama, [ask(question)], max_new_tokens=60)[0]
    rules = AnswerRules(max_sentences=1)
    end = rules.answer_end(whole)
    assert end is not None, f"the test needs an answer of two sentences or more: {whole!r}"
    cut = answers(llama, [ask(question, rules=rules)], max_new_tokens=60)[0]
    assert cut == whole[:end]


def test_a_caller_that_stops_reading_frees_its_rows_at_once(llama):
    import llama_cpp

    stream = llama.stream([ask(QUESTIONS[0]), ask(QUESTIONS[0], "finetuned")], 200)
    next(stream)
    assert len(llama.batch.row_ids) == 2
    stream.close()
    assert llama.batch.row_ids == []
    for lora in (None, llama.adapter_files["finetuned"]):  # the sequences' KV cells are free again
        memory = llama_cpp.llama_get_memory(llama.llama.context(lora))
        assert llama_cpp.llama_memory_seq_pos_max(memory, 0) == -1
    assert answers(llama, [ask(QUESTIONS[0])])[0]  # and the next request answers


def test_a_row_too_long_for_the_context_fails_alone(llama):
    huge = ask("word " * (llama.llama.n_ctx_train + 10))
    result = answers(llama, [huge, ask(QUESTIONS[0], "finetuned")])
    assert isinstance(result[0], RowFailure) and f"the model takes {llama.llama.n_ctx_train}" in result[0].message
    assert isinstance(result[1], str) and result[1]


def test_a_row_with_no_room_in_the_context_fails_with_a_message_and_is_never_cut_short(llama):
    batch, model = llama.batch, llama.llama
    big = model.n_ctx_train - 100  # each such row reserves most of the model's length in the shared context
    with batch.holding():
        try:
            batch.join(0, ask(QUESTIONS[0]), big)
            batch.join(1, ask(QUESTIONS[0]), big)
            assert model.cells < 3 * big  # a third does not fit beside them: it fails, it is not given fewer tokens
            with pytest.raises(ValueError, match=r"fill llama\.cpp's context"):
                batch.join(2, ask(QUESTIONS[0]), big)
            batch.leave({0, 1})
            for row in range(model.max_rows):  # small rows: as many as the context has sequences
                batch.join(row, ask(QUESTIONS[0]), 4)
            with pytest.raises(ValueError, match=f"already decodes {model.max_rows} rows"):
                batch.join(model.max_rows, ask(QUESTIONS[0]), 4)
        finally:
            batch.leave(set(batch.row_ids))
    assert answers(llama, [ask(QUESTIONS[0])])[0]


def test_adapters_are_converted_once_and_a_damaged_one_is_refused(llama, tmp_path):
    lora = llama.adapter_files["finetuned"]
    made = lora.stat().st_mtime_ns
    assert gguf_lora_file(ADAPTER, llama.base_folder, llama.cache_dir) == lora
    assert lora.stat().st_mtime_ns == made  # cached: not converted again
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "adapter_config.json").write_text((ADAPTER / "adapter_config.json").read_text())
    (damaged / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    with pytest.raises(ModelLoadError, match=r"could not be loaded on llama\.cpp"):
        llama.load_adapter(damaged, name="candidate")
    assert not llama.has_adapter("candidate") and llama.has_adapter("finetuned")


def test_the_arena_answers_both_columns_on_llama_cpp(llama, knowledge, tmp_path):
    arena = Arena([RagPipeline.from_retriever(HybridRetriever(knowledge), top_k=3), FinetunedPipeline(llama),
                   BasePipeline(llama)], llama, FeedbackStore.open(tmp_path / "f.sqlite3"), max_new_tokens=24,
                  max_prompt_chars=500)
    session = ArenaSession(columns=["rag", "finetuned", "base"])
    done = {name: event for name, event in arena.ask("What is the battery life of the Tessel T4?", session)
            if isinstance(event, DoneEvent)}
    assert set(done) == {"rag", "finetuned", "base"} and all(event.answer for event in done.values())
    stored = arena.feedback.exchange(session.exchange_id)
    assert stored["answers"]["finetuned"]["adapter_id"].startswith("lumenhollow-qlora@")
    assert stored["answers"]["finetuned"]["answer"] != stored["answers"]["base"]["answer"]


def test_sessions_asking_at_once_share_decode_steps_and_decode_greedily(llama, reference, test_settings):
    import threading

    batched = LlamaCppBackend.load(test_settings.model_copy(update={"engine": "llama.cpp"}))
    batched.load_adapter(ADAPTER)
    batched.batch_across_sessions(max_rows=8)
    requests = [[ask(question), ask(question, "finetuned")] for question in [*QUESTIONS, "What does quiet mode do?"]]
    results: dict[int, dict] = {}
    started = threading.Barrier(len(requests))

    def session(index: int) -> None:
        started.wait()
        results[index] = answers(batched, requests[index])

    threads = [threading.Thread(target=session, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    try:
        assert not any(thread.is_alive() for thread in threads)
        assert batched.batcher.largest_batch > 2  # more than one question's rows decoded in one step
        for index, texts in results.items():
            for request, answer in zip(requests[index], texts.values(), strict=True):
                assert answer and max(greedy_gaps(llama, reference, request, answer, request.adapter)) < NOISE
        assert len(results) == len(requests)
    finally:
        batched.close()


class NoEnd(AnswerRules):
    """Never the end-of-turn tokens: an answer in flight runs its full length, however the model would end it."""

    def __init__(self, ends: set[int]) -> None:
        self.ends = ends

    def banned_tokens(self, generated: list[int]) -> set[int]:
        return self.ends


def test_an_adapter_loaded_mid_answer_waits_for_it_and_the_next_question_gets_the_new_weights(test_settings,
                                                                                              tmp_path):
    """As on the transformers engine (tests/test_continuous_batching.py): the answer in flight ends on the adapter
    it started with, a question that arrives during the load waits for it and answers on the new weights. Every
    answer here is decoded alone through the batcher, so llama.cpp's per-batch-size rounding cannot differ."""
    import threading
    import time

    from tests.test_continuous_batching import collect, zeroed_adapter

    batched = LlamaCppBackend.load(test_settings.model_copy(update={"engine": "llama.cpp"}))
    new = zeroed_adapter(ADAPTER, tmp_path / "zeroed-adapter")
    try:
        batched.load_adapter(ADAPTER)
        gguf_lora_file(new, batched.base_folder, batched.cache_dir)  # converted ahead: the load below is the swap alone
        batched.batch_across_sessions(max_rows=8)
        batcher = batched.batcher
        tokenizer = batched.tokenizer
        ends = {tokenizer.eos_token_id, *tokenizer.convert_tokens_to_ids(["<|im_end|>"])} - {None}
        in_flight = ask("Write a long story about the lighthouse keepers of Lumenhollow.", "finetuned",
                        rules=NoEnd(ends))
        asked = ask(QUESTIONS[0], "finetuned")
        old_in_flight, old_asked = answers(batched, [in_flight], 400)[0], answers(batched, [asked], 16)[0]

        texts: dict[int, str] = {}
        arrived: dict[int, str] = {}
        finished: dict[str, float] = {}
        stream = batcher.stream([in_flight], 400)
        texts[0] = next(stream)[1] or ""

        def load() -> None:
            batched.load_adapter(new)
            finished["load"] = time.monotonic()

        loader = threading.Thread(target=load)
        loader.start()
        deadline = time.monotonic() + 60
        while not batcher._pauses and loader.is_alive():  # the load has asked for its pause (or is done)
            assert time.monotonic() < deadline, "the adapter load neither paused the batch nor ended"
            time.sleep(0.005)
        asker = threading.Thread(target=collect, args=(batcher.stream([asked], 16), arrived))  # during the load
        asker.start()
        collect(stream, texts)
        finished["in flight"] = time.monotonic()
        loader.join(120)
        asker.join(120)
        assert not loader.is_alive() and not asker.is_alive()
        assert finished["load"] >= finished["in flight"]  # the load waited for the answer in flight
        new_asked = answers(batched, [asked], 16)[0]  # the new weights, alone
    finally:
        batched.close()
    assert new_asked != old_asked  # the two adapters answer this question differently
    assert texts[0] == old_in_flight  # the answer in flight ended on the adapter it started with
    assert arrived[0] == new_asked  # the question that arrived during the load waited for it, and used it
