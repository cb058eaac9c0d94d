"""The OpenAI-compatible generation backend against a real server (``transformers serve``, loopback):
the base model and a fine-tuned model picked by name, streamed, with one failing row failing alone."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.arena.arena import ArenaSession
from pipelines.common.events import DoneEvent, ErrorEvent, RowFailure, TokenEvent
from pipelines.common.settings import Settings
from pipelines.generation.models import resolve_model_path
from pipelines.generation.openai_backend import DEFAULT_CONCURRENCY, OpenAICompatibleBackend
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
        with pytest.raises(ValueError, match="only a name"):  # DPO needs a folder; the server's is a name
            runtime.improve_adapter_from_votes()
    finally:
        runtime.close()


# Scale-out (#30): questions in at once, adapters loaded into the server at run time ---------------------------

class VllmStandIn:
    """A small HTTP stand-in for the parts of vLLM's server the arena uses that ``transformers serve`` lacks:
    ``POST /v1/load_lora_adapter`` (``{"lora_name", "lora_path"}``, vLLM's answers and error messages: both fields
    needed, a name loaded twice, "No adapter found", a rank above ``max_lora_rank``), ``GET /v1/models`` with the
    loaded adapters, and ``POST /v1/chat/completions``, passed through to the real ``transformers serve`` with a
    loaded adapter's name replaced by the model folder that adapter merged into the base makes (what vLLM would
    compute with the LoRA applied). It is not vLLM: it checks the request shape and the routing by name."""

    def __init__(self, upstream: str, merged: dict[Path, str], max_lora_rank: int = 16) -> None:
        self.upstream, self.merged, self.max_lora_rank = upstream, merged, max_lora_rank
        self.loaded: dict[str, Path] = {}
        self.load_requests: list[dict] = []
        self.chat_models: list[str] = []
        handler = type("Handler", (_StandInHandler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def load(self, body: dict) -> tuple[int, object]:
        self.load_requests.append(body)
        name, path = body.get("lora_name"), body.get("lora_path")
        if not name or not path:
            return 400, {"message": "Both 'lora_name' and 'lora_path' must be provided.", "code": 400}
        if name in self.loaded:
            return 400, {"message": f"The lora adapter '{name}' has already been loaded.", "code": 400}
        folder = Path(path)
        if not (folder / "adapter_config.json").is_file() or folder.resolve() not in self.merged:
            return 404, {"message": f"No adapter found for {path}", "code": 404}
        rank = json.loads((folder / "adapter_config.json").read_text())["r"]
        if rank > self.max_lora_rank:
            return 400, {"message": f"LoRA rank {rank} is greater than max_lora_rank {self.max_lora_rank}.",
                         "code": 400}
        self.loaded[name] = folder.resolve()
        return 200, f"Success: LoRA adapter '{name}' added successfully."


class _StandInHandler(BaseHTTPRequestHandler):
    standin: VllmStandIn

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: object) -> None:
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            names = [{"id": name, "object": "model"} for name in self.standin.loaded]
            self._answer(200, {"object": "list", "data": names})
        else:
            self._answer(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v1/load_lora_adapter":
            self._answer(*self.standin.load(body))
            return
        if self.path != "/v1/chat/completions":
            self._answer(404, {"detail": "Not Found"})
            return
        self.standin.chat_models.append(body["model"])
        if body["model"] in self.standin.loaded:
            body["model"] = self.standin.merged[self.standin.loaded[body["model"]]]
        request = urllib.request.Request(f"{self.standin.upstream}/chat/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            upstream = urllib.request.urlopen(request, timeout=300)
        except urllib.error.HTTPError as refused:
            self._answer(refused.code, refused.read().decode())
            return
        with upstream:  # streamed through as it comes; the connection closes at its end (HTTP/1.0)
            self.send_response(upstream.status)
            self.send_header("Content-Type", upstream.headers.get("Content-Type", "text/event-stream"))
            self.end_headers()
            while line := upstream.readline():
                self.wfile.write(line)
                self.wfile.flush()


def _copy_adapter(source: Path, target: Path, rank: int | None = None) -> Path:
    shutil.copytree(source, target)
    if rank is not None:
        config = json.loads((target / "adapter_config.json").read_text())
        (target / "adapter_config.json").write_text(json.dumps({**config, "r": rank}))
    return target


def _remote_settings(test_settings, tmp_path, base_url: str, **overrides) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", collection=test_settings.collection, max_new_tokens=16,
        weaviate_url=f"http://127.0.0.1:{test_settings.weaviate_http_port}",
        weaviate_grpc_port=test_settings.weaviate_grpc_port,
        generation_base_url=base_url, generation_model=resolve_model_path(test_settings), **overrides)


def test_activating_an_adapter_folder_loads_it_into_the_server_at_run_time(
        openai_server, test_settings, finetuned_model, knowledge_base, tmp_path):
    shipped = Path(test_settings.adapter_path)
    version = _copy_adapter(shipped, tmp_path / "data" / "adapters" / "lumenhollow-v2")
    standin = VllmStandIn(openai_server, {shipped.resolve(): finetuned_model, version.resolve(): finetuned_model})
    runtime = Runtime.start(_remote_settings(test_settings, tmp_path, standin.url))  # no adapter model name
    try:
        # With ARENA_GENERATION_ADAPTER_MODEL unset, ARENA_ADAPTER_PATH went into the server under its folder name.
        assert standin.load_requests == [{"lora_name": shipped.name, "lora_path": str(shipped.resolve())}]
        assert not [p for p in runtime.problems if "Fine-tuned" in p], runtime.problems
        assert runtime.active_adapter() == f"{shipped.name}@{standin.url}"

        assert runtime.activate_adapter(version) == f"lumenhollow-v2@{standin.url}"
        assert standin.load_requests[-1] == {"lora_name": "lumenhollow-v2", "lora_path": str(version.resolve())}
        assert runtime.adapter_folder() == version
        events = list(runtime.arena.ask("Who founded Lumenhollow Instruments?", ArenaSession()))
        done = {name: e for name, e in events if isinstance(e, DoneEvent)}
        assert set(done) == {"rag", "finetuned"} and done["finetuned"].answer
        assert "lumenhollow-v2" in standin.chat_models  # the fine-tuned column asked for the new adapter by name
        exchange = runtime.feedback.exchange(events[-1][1].exchange_id)
        assert exchange["answers"]["finetuned"]["adapter_id"] == f"lumenhollow-v2@{standin.url}"
        # The same request to the server's model of that adapter gives the same answer.
        prepared = next(p for p in runtime.arena.pipelines if p.name == "finetuned").prepare(
            "Who founded Lumenhollow Instruments?", [])
        direct = OpenAICompatibleBackend(openai_server, finetuned_model)
        alone = _answers(direct, [dataclasses.replace(prepared.request, adapter=None)], 16)[0][0]
        assert alone.strip() == done["finetuned"].answer.strip()

        # A second replica activating the same folder: the server has the name already, which is fine.
        other = OpenAICompatibleBackend(standin.url, resolve_model_path(test_settings))
        assert other.load_adapter(version) == f"lumenhollow-v2@{standin.url}"
    finally:
        runtime.close()
        standin.close()


def test_an_adapter_above_the_servers_rank_is_refused_before_it_is_sent(tmp_path):
    wide = _copy_adapter(Path(Settings().adapter_path), tmp_path / "wide", rank=64)
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1", "base", max_lora_rank=16)  # nothing listens
    backend.load_adapter("mine")
    with pytest.raises(ValueError, match=r"rank 64, above the server's limit of 16.*--max-lora-rank 64"):
        backend.load_adapter(wide)
    assert backend.adapter_models == {"finetuned": "mine"}  # the slot keeps its adapter
    assert OpenAICompatibleBackend("http://127.0.0.1:9/v1", "base", max_lora_rank=64).max_lora_rank == 64


def test_an_unset_adapter_model_name_is_a_clear_error():
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1", "base")
    with pytest.raises(ValueError, match="set ARENA_GENERATION_ADAPTER_MODEL"):
        backend.load_adapter("")
    assert not backend.has_adapter("finetuned")


def test_a_server_without_runtime_loading_says_what_to_set(openai_server, test_settings, knowledge_base, tmp_path):
    """``transformers serve`` has no /v1/load_lora_adapter (as vLLM without VLLM_ALLOW_RUNTIME_LORA_UPDATING):
    with no adapter model name the fine-tuned column is unavailable, with a message naming both ways out."""
    runtime = Runtime.start(_remote_settings(test_settings, tmp_path, openai_server))
    try:
        (problem,) = [p for p in runtime.problems if "Fine-tuned" in p]
        assert "ARENA_GENERATION_ADAPTER_MODEL is not set" in problem
        assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in problem and "HTTP 404" in problem
        assert not runtime.backend.has_adapter("finetuned")
        events = list(runtime.arena.ask("Who founded Lumenhollow Instruments?", ArenaSession()))
        assert any(name == "rag" and isinstance(e, DoneEvent) and e.answer for name, e in events)
    finally:
        runtime.close()


def test_questions_go_in_as_many_at_once_as_configured(openai_server, test_settings, finetuned_model,
                                                      knowledge_base, tmp_path):
    """Three questions asked together through the arena's own Gradio event all run at once against the server:
    each one is processing before any of them ends (with one question at a time, the second waited in the queue
    until the first ended)."""
    import gradio as gr
    from gradio_client import Client
    from gradio_client.utils import Status

    from components.arena import build_arena_tab

    settings = _remote_settings(test_settings, tmp_path, openai_server, generation_concurrency=3,
                                generation_adapter_model=finetuned_model)
    runtime = Runtime.start(settings)
    assert runtime.arena.concurrent_requests == 3
    with gr.Blocks() as demo:
        build_arena_tab(runtime.arena, runtime.describe_model(), [], runtime.knowledge, runtime.retrieval_defaults)
    demo.queue(default_concurrency_limit=8).launch(prevent_thread_lock=True, server_name="127.0.0.1")
    try:
        client = Client(demo.local_url, verbose=False)
        questions = ["Who founded Lumenhollow Instruments?", "Where is Lumenhollow based?",
                     "What does the T4 sensor measure?"]
        jobs = [client.submit(question, [], [], [], api_name="/ask") for question in questions]
        started: dict[int, float] = {}
        ended: dict[int, float] = {}
        deadline = time.monotonic() + 600
        while len(ended) < len(jobs) and time.monotonic() < deadline:
            now = time.monotonic()
            for number, job in enumerate(jobs):
                if number not in ended and job.done():
                    ended[number] = now
                elif number not in started and job.status().code in (Status.PROCESSING, Status.ITERATING):
                    started[number] = now
            time.sleep(0.02)
        assert len(ended) == len(jobs), "the questions did not finish"
        assert all(job.exception() is None for job in jobs)
        assert len(started) == len(jobs) and max(started.values()) < min(ended.values()), (started, ended)
    finally:
        demo.close()
        runtime.close()


def test_the_concurrency_default_comes_from_the_server_where_it_says():
    """llama.cpp's server states its parallel slots in /props; without a setting, half of them (two columns a
    question). A server that states nothing (vLLM, ``transformers serve``) gets the default."""
    class Props(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps({"total_slots": 12} if self.path == "/props" else {"detail": "Not Found"}).encode()
            self.send_response(200 if self.path == "/props" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Props)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        assert OpenAICompatibleBackend(url, "m").concurrent_requests == 6
        assert OpenAICompatibleBackend(url, "m", concurrency=40).concurrent_requests == 40
        assert OpenAICompatibleBackend("http://127.0.0.1:9/v1", "m").concurrent_requests == DEFAULT_CONCURRENCY
    finally:
        server.shutdown()
        server.server_close()
