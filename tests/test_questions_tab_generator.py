"""The Questions tab's generator choice: the rules generator always, the model generator (ragas' testset generation
on the judge endpoint) only where one is configured, chosen by ``ARENA_QUESTION_GENERATOR`` at start and by a radio
in the tab. The runtime's wiring is checked on a real :class:`~pipelines.runtime.Runtime` (no model, no store: the
service is cheap to build); the model path is driven through the tab's own handler with ragas' real
TestsetGenerator on the scripted writer the model generator's tests use (tests/scripted_writer.py), over a
collection folder of three hand-checkable documents."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from pydantic import ValidationError

from components.questions import build_questions_tab, frame_to_rows
from pipelines.common.correctness import key_present
from pipelines.common.settings import Settings
from pipelines.evaluation.collection_questions import (
    MODEL,
    MODEL_DEFAULT_COUNT,
    RULES,
    CollectionQuestions,
    model_generator,
)
from pipelines.evaluation.question_generation import DEFAULT_COUNT, FORMS
from pipelines.evaluation.question_generation_model import SYNTHESIZER_FORMS
from pipelines.evaluation.saved_question_sets import SavedQuestionSets
from pipelines.evaluation.scorer import _ragas_embeddings
from pipelines.runtime import Runtime
from tests.scripted_writer import ScriptedWriter
from tests.test_question_generation_model import DOCUMENTS, TEXTS

ENDPOINT = {"judge": "endpoint", "llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "writer"}


@pytest.fixture
def documents(tmp_path) -> Path:
    """A collection's kept originals: three documents with numbers, dates and names."""
    folder = tmp_path / "documents" / "Ferries"
    folder.mkdir(parents=True)
    for document in DOCUMENTS:
        (folder / document.name).write_text(document.text)
    return folder


def knowledge_of(folder: Path) -> SimpleNamespace:
    return SimpleNamespace(collections=lambda: [folder.name], originals_dir=lambda name: folder.parent / name)


def runtime_service(tmp_path, folder: Path, **settings) -> CollectionQuestions:
    """The question service exactly as the app's runtime builds it from these settings."""
    runtime = Runtime(settings=Settings(data_dir=tmp_path / "data", **settings), feedback=None, arena=None,
                      scoring=None, knowledge=knowledge_of(folder), rag_problem="no vector store in this test")
    return runtime.question_service


def built_tab(service) -> tuple[dict, dict]:
    """The tab's events by handler name, and its components by elem_id."""
    with gr.Blocks() as demo:
        build_questions_tab(service)
    events = {event.name: event for event in demo.fns.values()}
    components = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    return events, components


def test_without_a_judge_endpoint_the_tab_offers_only_the_rules_and_says_why(tmp_path, documents):
    service = runtime_service(tmp_path, documents)
    assert service.question_generators() == [RULES] and service.default_generator == RULES
    events, components = built_tab(service)
    radio, note = components["qs-generator"], components["qs-generator-note"]
    assert radio.interactive is False and radio.value == RULES
    assert note.visible and "ARENA_JUDGE=endpoint" in note.value and "135M" in note.value
    assert events["on_generate"].inputs[-1] is radio  # the radio's value reaches the handler

    with pytest.raises(gr.Error, match="ARENA_JUDGE=endpoint"):  # a call that names it anyway is refused
        events["on_generate"].fn("Ferries", 10, -1, 0, MODEL)
    rows, summary = events["on_generate"].fn("Ferries", 10, -1, 0, RULES)
    assert "(rules generator)" in summary and set(rows["form"]) <= {*FORMS, "out-of-corpus"}
    with pytest.raises(ValidationError, match="ARENA_QUESTION_GENERATOR=model needs"):
        Settings(data_dir=tmp_path / "data", question_generator="model")


def test_with_a_judge_endpoint_the_runtime_offers_the_model_and_starts_on_the_configured_generator(tmp_path,
                                                                                                   documents):
    service = runtime_service(tmp_path, documents, question_generator="model", **ENDPOINT)
    assert service.question_generators() == [RULES, MODEL] and service.default_generator == MODEL
    assert service.generator_note() == ""
    events, components = built_tab(service)
    assert components["qs-generator"].interactive is True and components["qs-generator"].value == MODEL
    assert not components["qs-generator-note"].visible
    assert events["on_generator"].fn(MODEL) == MODEL_DEFAULT_COUNT  # each generator's own count
    assert events["on_generator"].fn(RULES) == DEFAULT_COUNT
    # Nothing answers at this address: the model generator's failure is a clear error, not a crash.
    with pytest.raises(gr.Error, match="testset generator failed: APIConnectionError"):
        events["on_generate"].fn("Ferries", 4, 1, 0, MODEL)
    assert runtime_service(tmp_path, documents, **ENDPOINT).default_generator == RULES  # the default: rules


def test_the_tab_generates_with_ragas_on_a_scripted_writer_when_the_model_is_chosen(tmp_path, documents, embedder):
    """The tab's handler with the model chosen runs ragas' testset generator (the scripted writer answers every
    prompt ragas sends), and the rows come back keyed and checked; the rules choice on the same service does not
    touch the writer."""
    writer = ScriptedWriter()
    service = CollectionQuestions(knowledge_of(documents), SavedQuestionSets(tmp_path / "data", tmp_path / "q.jsonl"),
                                  training_questions=lambda docs: [],
                                  model=model_generator(writer, _ragas_embeddings(embedder)))
    events, _ = built_tab(service)

    rows, summary = events["on_generate"].fn("Ferries", 10, -1, 0, RULES)
    assert writer.answered == [] and "(rules generator)" in summary
    rows, summary = events["on_generate"].fn("Ferries", 10, -1, 0, MODEL)
    assert {"summary", "single_hop"} <= set(writer.answered)
    assert "(model generator)" in summary
    answerable = rows[rows["type"] != "out-of-corpus"]
    assert len(answerable) and set(answerable["form"]) <= set(SYNTHESIZER_FORMS.values())
    for _, row in answerable.iterrows():
        assert key_present(TEXTS[row["source"]], [row["key"].split(" | ")[0]]), dict(row)
    service.save_question_set("Ferries", frame_to_rows(rows))  # the saved set records how it was made
    assert service.sets.meta("Ferries")["generator"] == MODEL
