"""The OpenAI-compatible generation backend against a real server (``transformers serve``, loopback):
the base model and a fine-tuned model picked by name, streamed, with one failing row failing alone."""

from __future__ import annotations

import pytest

from pipelines.arena.arena import ArenaSession
from pipelines.common.events import DoneEvent, ErrorEvent, RowFailure, TokenEvent
from pipelines.common.settings import Settings
from pipelines.generation.models import resolve_model_path
from pipelines.generation.openai_backend import OpenAICompatibleBackend
from pipelines.generation.requests import GenerationRequest
from pipelines.runtime import Runtime

QUESTION = [{"role": "user", "content": "Who founded Lumenhollow Instruments?"}]


@pytest.fixture(scope="module")
def finetuned_model(test_settings, tmp_path_factory) -> str:
    """The shipped adapter merged into the base model: a model folder the server can serve by name
    (vLLM would serve the adapter folder itself with --lora-modules)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_path = resolve_model_path(test_settings)
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(test_settings.adapter_path)).merge_and_unload()
    folder = tmp_path_factory.mktemp("served") / "lumenhollow-merged"
    merged.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base_path).save_pretrained(folder)
    return str(folder)


def _answers(backend, requests, tokens=24) -> tuple[dict[int, str], dict[int, str], int]:
    texts, failures, deltas = {}, {}, 0
    for row, delta in backend.stream(requests, tokens):
        if isinstance(delta, RowFailure):
            failures[row] = delta.message
        elif delta is not None:
            texts[row] = texts.get(row, "") + delta
            deltas += 1
    return texts, failures, deltas


def test_base_and_adapter_are_chosen_by_model_name_and_stream(openai_server, test_settings, finetuned_model):
    backend = OpenAICompatibleBackend(openai_server, resolve_model_path(test_settings))
    backend.load_adapter(finetuned_model)
    assert backend.has_adapter("finetuned") and backend.adapter_ids["finetuned"].startswith("lumenhollow-merged@")
    texts, failures, deltas = _answers(backend, [GenerationRequest(QUESTION), GenerationRequest(QUESTION, "finetuned")])
    assert not failures and texts[0].strip() and texts[1].strip()
    assert deltas > 4  # streamed piece by piece, not one block
    assert texts[0] != texts[1]  # the adapter's model answers differently from the base
    direct = OpenAICompatibleBackend(openai_server, finetuned_model)
    assert _answers(direct, [GenerationRequest(QUESTION)])[0][0] == texts[1]  # routed to the named model


def test_a_failing_row_fails_alone(openai_server, test_settings, tmp_path):
    backend = OpenAICompatibleBackend(openai_server, resolve_model_path(test_settings))
    backend.load_adapter(str(tmp_path / "no-such-model"))
    texts, failures, _ = _answers(backend, [GenerationRequest(QUESTION), GenerationRequest(QUESTION, "finetuned")])
    assert texts[0].strip() and 1 not in texts
    assert "no-such-model" in failures[1]


def test_the_arena_runs_on_the_server(openai_server, test_settings, finetuned_model, knowledge_base, tmp_path):
    settings = Settings(
        data_dir=tmp_path, collection=test_settings.collection, max_new_tokens=16,
        weaviate_url=f"http://127.0.0.1:{test_settings.weaviate_http_port}",
        weaviate_grpc_port=test_settings.weaviate_grpc_port,
        generation_base_url=openai_server, generation_model=resolve_model_path(test_settings),
        generation_adapter_model=finetuned_model,
    )
    runtime = Runtime.start(settings)
    try:
        assert runtime.health()["model"] == "ok"
        events = list(runtime.arena.ask("Who founded Lumenhollow Instruments?", ArenaSession()))
        done = {name: e for name, e in events if isinstance(e, DoneEvent)}
        assert set(done) == {"rag", "finetuned"} and all(e.answer for e in done.values())
        assert any(isinstance(e, TokenEvent) for _, e in events)
        exchange = runtime.feedback.exchange(events[-1][1].exchange_id)
        assert exchange["answers"]["finetuned"]["adapter_id"].startswith("lumenhollow-merged@")
        assert exchange["answers"]["rag"]["contexts"]

        runtime.backend.load_adapter(str(tmp_path / "gone"))  # the server lost the adapter: RAG still answers
        events = list(runtime.arena.ask("Who founded Lumenhollow Instruments?", ArenaSession()))
        errors = {name: e for name, e in events if isinstance(e, ErrorEvent)}
        assert set(errors) == {"finetuned"} and "gone" in errors["finetuned"].message
        assert any(name == "rag" and isinstance(e, DoneEvent) and e.answer for name, e in events)
        with pytest.raises(ValueError, match="in-process model"):
            runtime.improve_adapter_from_votes()
    finally:
        runtime.close()
