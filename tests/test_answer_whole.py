"""Arena.answer_whole and its three callers (the programs' API, the knowledge-update demo, batch runs),
with scripted pipelines and a scripted backend: no model, no Weaviate; a real SQLite feedback store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.arena.api import ArenaAPI
from pipelines.arena.arena import Arena, ArenaSession, PromptError
from pipelines.arena.knowledge_update import DEFAULT_SCENARIO, run_update_demo
from pipelines.arena.pipeline import PipelineError, PreparedRequest
from pipelines.common.events import RetrievedChunk, RowFailure
from pipelines.feedback.store import FeedbackStore
from pipelines.generation.backend import GenerationBackend
from pipelines.generation.requests import GenerationRequest

CHUNK = RetrievedChunk("Mara Venn founded Lumenhollow in 2011.", "history.md", 0, 0.8, 1)


class ScriptedPipeline:
    def __init__(self, name: str, chunks: list[RetrievedChunk] | None = None, error: str = "",
                 adapter_id: str | None = None) -> None:
        self.name, self.chunks, self.error, self.adapter_id = name, chunks or [], error, adapter_id

    def prepare(self, question, history, options=None) -> PreparedRequest:
        if self.error:
            raise PipelineError(self.error)
        return PreparedRequest(self.name, GenerationRequest([{"role": "user", "content": question}],
                                                            adapter=self.name if self.adapter_id else None),
                               chunks=self.chunks, retrieval_s=0.01 if self.chunks else None,
                               adapter_id=self.adapter_id)


class ScriptedBackend:
    """Each row answers its script in two deltas; a script "!fail" fails that row alone."""

    model_id = "scripted"
    precision = "none"
    loads_adapter_folders = False
    location = "here"
    concurrent_requests = 1

    def __init__(self, scripts: dict[str | None, str]) -> None:
        self.scripts = scripts  # adapter slot (None: base) -> answer
        self.adapter_ids = {name: f"{name}@v1" for name in scripts if name}

    def is_live(self) -> bool:
        return True

    def has_adapter(self, name: str) -> bool:
        return name in self.adapter_ids

    def load_adapter(self, source, name="finetuned") -> str:
        return self.adapter_ids.setdefault(name, str(source))

    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        for row, request in enumerate(requests):
            script = self.scripts[request.adapter]
            if script == "!fail":
                yield row, RowFailure("server went away")
                continue
            half = len(script) // 2
            yield row, script[:half]
            yield row, script[half:]
            yield row, None


def make_arena(tmp_path: Path, pipelines, scripts) -> Arena:
    return Arena(pipelines, ScriptedBackend(scripts), FeedbackStore.open(tmp_path / "f.sqlite3"),
                 max_new_tokens=8, max_prompt_chars=200)


def test_scripted_backend_is_a_generation_backend():
    assert isinstance(ScriptedBackend({}), GenerationBackend)


def test_answer_whole_collects_every_column_and_records_the_exchange(tmp_path):
    arena = make_arena(tmp_path, [ScriptedPipeline("rag", [CHUNK]), ScriptedPipeline("finetuned", adapter_id="ft@1")],
                       {None: " Mara Venn. ", "finetuned": "Someone."})
    whole = arena.answer_whole("Who founded Lumenhollow?", ArenaSession())
    assert list(whole.results) == ["rag", "finetuned"]
    assert whole.results["rag"].answer == "Mara Venn."  # stripped, as the DoneEvent
    assert whole.results["finetuned"].adapter_id == "ft@1" and whole.results["finetuned"].timings.tokens == 2
    assert whole.passages() == [CHUNK]
    stored = arena.feedback.exchange(whole.exchange_id)
    assert {name: a["answer"] for name, a in stored["answers"].items()} == {"rag": "Mara Venn.",
                                                                             "finetuned": "Someone."}


def test_answer_whole_keeps_each_columns_error(tmp_path):
    arena = make_arena(tmp_path, [ScriptedPipeline("rag", error="Retrieval is unavailable"),
                                  ScriptedPipeline("finetuned", adapter_id="ft@1")], {"finetuned": "!fail"})
    whole = arena.answer_whole("Who founded Lumenhollow?", ArenaSession())
    assert whole.results["rag"].error == "Retrieval is unavailable"
    assert whole.results["finetuned"].error == "Generation failed: server went away"
    assert whole.passages() == [] and whole.exchange_id


def test_answer_whole_refuses_a_bad_prompt_before_anything_runs(tmp_path):
    arena = make_arena(tmp_path, [ScriptedPipeline("rag"), ScriptedPipeline("finetuned")], {None: "x"})
    session = ArenaSession()
    with pytest.raises(PromptError):
        arena.answer_whole("   ", session)
    assert session.session_id == "" and session.exchange_id is None


def test_the_api_returns_answers_errors_passages_and_adapters(tmp_path):
    arena = make_arena(tmp_path, [ScriptedPipeline("rag", [CHUNK]), ScriptedPipeline("finetuned", adapter_id="ft@1"),
                                  ScriptedPipeline("rag_finetuned", error="No fine-tuned adapter is loaded")],
                       {None: "Mara Venn.", "finetuned": "Someone."})
    api = ArenaAPI(arena, arena.feedback, lambda: {"model": "ok"})
    result = api.ask("Who founded Lumenhollow?", third_column=True)
    answers = result["answers"]
    assert list(answers) == ["rag", "finetuned", "rag_finetuned"]
    assert answers["rag"]["answer"] == "Mara Venn." and answers["rag"]["error"] is None
    assert set(answers["rag"]["timings"]) == {"first_token_s", "total_s", "retrieval_s", "tokens"}
    assert answers["finetuned"]["adapter"] == "ft@1"
    assert answers["rag_finetuned"]["answer"] == "" and answers["rag_finetuned"]["error"].startswith("No fine-tuned")
    assert result["contexts"] == [{"rank": 1, "source": "history.md", "score": 0.8, "heading": "", "page": None,
                                   "text": CHUNK.text}]
    assert api.vote(result["exchange_id"], "rag")["vote_id"]


def test_the_knowledge_update_demo_reads_whole_answers(tmp_path):
    class Knowledge:  # what the demo asks of a knowledge base
        def delete_document_if_present(self, collection, name): ...

        def ingest_files(self, collection, files):
            arena.backend.scripts[None] = "It is 75 euros."  # the new document changes RAG's answer
            return type("Report", (), {"failed": {}})()

    arena = make_arena(tmp_path, [ScriptedPipeline("rag", [CHUNK]), ScriptedPipeline("finetuned", error="no adapter")],
                       {None: "It is 68 euros."})
    result = run_update_demo(arena, Knowledge(), "Docs")
    assert result.before == {"rag": "It is 68 euros.", "finetuned": "⚠️ no adapter"}
    assert result.after["rag"] == "It is 75 euros." and result.rag_learned and not result.finetuned_learned
    assert result.scenario == DEFAULT_SCENARIO and all(result.exchange_ids)
