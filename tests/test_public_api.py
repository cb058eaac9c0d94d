"""The public API as the API page, gradio_client and MCP see it: built from the whole app with a stub
runtime (scripted backend, SQLite store, no knowledge base), so no model, Weaviate or server starts.

Checks the endpoint names and parameter names, and that no UI handler (component values, session
state) is listed; the end-to-end calls are in test_api.py.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace

import pytest

from components.api import PUBLIC_ENDPOINTS
from pipelines.arena.arena import Arena
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.common.auth import AdminAuth
from pipelines.common.settings import Settings
from pipelines.evaluation.question_tags import question_type_table, save_question_types
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.retrieval import RetrievalOptions
from pipelines.training.jobs import TrainingJobs
from tests.fakes import ScriptedBackend, ScriptedRetriever

EXPECTED = {
    "/ask_both": ["question", "collection", "top_k", "third_column"],
    "/vote": ["exchange_id", "choice"],
    "/health": [],
    "/collections": [],
    "/documents": ["collection"],
    "/ingest": ["admin_password", "collection", "files", "chunk_tokens", "overlap_tokens"],
    "/delete_document": ["admin_password", "collection", "document"],
    "/train": ["admin_password", "collection", "recipe", "use_question_set", "four_bit", "lora_rank", "lora_alpha",
               "lora_dropout", "learning_rate", "epochs", "max_steps", "batch_size", "grad_accumulation",
               "max_length", "preset"],
    "/training_status": [],
    "/cancel_training": ["admin_password"],
    "/adapters": [],
    "/activate_adapter": ["admin_password", "adapter"],
    "/pipeline_ratings": ["by_adapter", "question_set_only", "since", "rater"],
    "/export": ["admin_password", "include_user_names", "agreed_only"],
    "/evaluate": ["admin_password", "question_limit"],
    "/generate_questions": ["collection", "count", "out_of_corpus", "seed"],
    "/question_set": ["collection"],
    "/rating_queues": [],
    "/queue_next": ["queue_id", "rater"],
    "/queue_vote": ["queue_id", "exchange_id", "choice", "rater"],
}
# UI handlers the end-to-end tests drive through gradio_client: callable, but not on the API page.
UI_CALLED_BY_TESTS = {"/ask", "/vote_left", "/vote_tie", "/rate_left", "/improve_adapter", "/leaderboard"}


def stub_runtime(tmp_path: Path) -> SimpleNamespace:
    """What app.build_demo reads of a Runtime, with a scripted backend and no knowledge base."""
    settings = Settings(data_dir=tmp_path)
    feedback = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    backend = ScriptedBackend()
    rag = RagPipeline.from_retriever(ScriptedRetriever())
    arena = Arena([rag, FinetunedPipeline(backend)], backend, feedback, max_new_tokens=8, max_prompt_chars=100)
    return SimpleNamespace(
        settings=settings, feedback=feedback, arena=arena, backend=backend, knowledge=None, problems=[],
        references=None, rag_problem="no vector store in this test", training=TrainingJobs(settings),
        retrieval_defaults=RetrievalOptions(), auth=AdminAuth(None), adapter_folders=[tmp_path / "adapters"],
        describe_model=lambda: "scripted", activate_adapter=lambda path: path.name, active_adapter=lambda: "none",
        pair_writer=lambda: None, improve_adapter_from_votes=lambda: "", rescore=lambda: 0,
        judge_status=lambda: "", batch_report=lambda limit: ("", tmp_path / "report.zip"),
        verdict_page=lambda fresh=False: None, stored_slices=lambda dimension: [],
        question_types=functools.partial(question_type_table, settings.questions_file, settings.data_dir),
        save_question_types=functools.partial(save_question_types, settings.questions_file, settings.data_dir),
        health=lambda: {"model": "ok", "weaviate": "down", "feedback_store": "ok"},
        chosen_questions=lambda: [], question_service=None,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from app import build_demo

    return build_demo(stub_runtime(tmp_path_factory.mktemp("public-api")))


def test_the_api_page_lists_exactly_the_public_endpoints_with_their_parameter_names(demo):
    named = demo.get_api_info()["named_endpoints"]
    assert {name: [p["parameter_name"] for p in info["parameters"]] for name, info in named.items()} == EXPECTED
    assert [name.lstrip("/") for name in EXPECTED] == list(PUBLIC_ENDPOINTS)
    assert not demo.get_api_info()["unnamed_endpoints"]


def test_every_public_endpoint_documents_itself_and_each_parameter(demo, tmp_path):
    for name, info in demo.get_api_info()["named_endpoints"].items():
        assert info["description"], f"{name} has no description"
        for parameter in info["parameters"]:
            assert parameter["component"] == "Api", f"{name} takes a UI component ({parameter})"
    from components.api import public_endpoints

    for fn in public_endpoints(stub_runtime(tmp_path), []):
        for parameter in EXPECTED[f"/{fn.__name__}"]:
            assert f"{parameter}:" in (fn.__doc__ or ""), f"/{fn.__name__} does not document {parameter}"


def test_ui_handlers_are_hidden_or_private(demo):
    every = demo.get_api_info(all_endpoints=True)["named_endpoints"]
    hidden = {name for name, info in every.items() if info["api_visibility"] != "public"}
    assert hidden >= UI_CALLED_BY_TESTS
    assert all(every[name]["api_visibility"] == "undocumented" for name in hidden)


def test_hide_ui_events_hides_a_new_handler_with_poor_parameter_names():
    import gradio as gr

    from components.api import hide_ui_events

    with gr.Blocks() as blocks:
        box = gr.Textbox()
        gr.Button().click(lambda given, r: given, inputs=[box, gr.State()], outputs=[box], api_name="start")
        assert hide_ui_events(blocks) == ["start"]
    assert blocks.get_api_info()["named_endpoints"] == {}
