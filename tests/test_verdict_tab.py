"""The Evaluation tab's verdict panel on a stand-in ``verdict_page``: the recommendation, the page and the slice
table for the chosen dimension, after a batch run and from the stored answers; and the runtime's side of it on a
stand-in runtime (a store and settings, no model)."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import pytest

from components.evaluation import build_evaluation_tab
from components.slices_view import SLICE_COLUMNS
from pipelines.common.events import PipelineResult, Timings
from pipelines.common.settings import Settings
from pipelines.evaluation.saved_question_sets import SavedQuestionSets
from pipelines.evaluation.slices import BY_TYPE
from pipelines.evaluation.verdict import VerdictPage, verdict_from_exchanges, write_verdict
from pipelines.feedback.store import FeedbackStore
from pipelines.runtime import Runtime
from tests.tab_handlers import tab_handlers
from tests.test_verdict import exchange, questions


def test_the_evaluation_tab_shows_the_verdict_and_its_slices(tmp_path):
    verdict = verdict_from_exchanges([exchange(i, i < 5, i < 1) for i in range(6)], questions(6), set_name="s.jsonl",
                                     rounds=5)
    page = write_verdict(verdict, tmp_path)
    asked = []

    def verdict_page(fresh: bool) -> VerdictPage:
        asked.append(fresh)
        return VerdictPage(verdict, page)

    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    try:
        handlers = tab_handlers(lambda: build_evaluation_tab(store, verdict_page=verdict_page))
    finally:
        store.close()
    summary, path, slices, frame, plot = handlers["show_stored_verdict"](BY_TYPE)
    assert asked == [True] and path == str(page)
    assert "### Verdict: Too little evidence" in summary and verdict.recommendation.text in summary
    assert list(frame.columns) == SLICE_COLUMNS and set(frame["pipeline"]) == {"RAG", "Fine-tuned"}
    assert list(frame["accuracy"]) == ["17% [3%, 56%] (n=6)", "83% [44%, 97%] (n=6)"]  # Fine-tuned, then RAG
    bars = {(row[1], row[2]): row[3] for row in plot.value["data"]}  # slice · pipeline, slice, pipeline, accuracy
    assert bars == pytest.approx({("number", "Fine-tuned"): 1 / 6, ("number", "RAG"): 5 / 6})  # JSON: 10 digits
    assert plot.caption is None  # nothing left out
    by_document, document_plot = handlers["chosen_slice_views"](slices, "document")
    assert list(by_document["slice"]) == ["a.md", "a.md"]
    assert [row[1] for row in document_plot.value["data"]] == ["a.md", "a.md"]
    handlers["show_batch_verdict"]("retrieval")
    assert asked == [True, False]
    empty, empty_plot = handlers["chosen_slice_views"]({}, "adapter")
    assert empty.empty and empty_plot.value["data"] == []


def test_the_runtime_builds_the_verdict_from_the_stored_answers(tmp_path):
    """``Runtime.verdict_page`` on a stand-in runtime (store, settings, no model): built from the stored answers
    into the data dir's reports folder, the newest one returned again unless ``fresh``."""
    questions_file = tmp_path / "set.jsonl"
    questions_file.write_text(json.dumps({"question": "Question 0?", "key": "42"}) + "\n")
    settings = Settings(data_dir=tmp_path / "data", questions_file=questions_file, adapter_path=tmp_path / "none")
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    exchange_id = store.record_exchange("s", "Question 0?", [PipelineResult("rag", "It is 42.",
                                                                            timings=Timings(0.1, 1.0))])
    store.add_scores(exchange_id, [{"pipeline": "rag", "metric": "key_fact", "value": 1.0, "status": "ok"}], "r")
    runtime = SimpleNamespace(settings=settings, feedback=store, backend=None, last_verdict=None,
                              chosen_question_set=SavedQuestionSets(settings.data_dir, settings.questions_file).chosen,
                              question_set_documents=lambda chosen: settings.corpus_dir)
    runtime.adapter_folder = functools.partial(Runtime.adapter_folder, runtime)
    try:
        assert runtime.adapter_folder() is None  # no backend, no adapter folder here
        first = Runtime.verdict_page(runtime)
        assert first.html.parent.parent == settings.data_dir / "reports" and first.html.is_file()
        assert first.verdict.questions == 1 and first.verdict.columns["rag"].answer_s == 1.0
        assert Runtime.verdict_page(runtime) is first
        runtime.settings = Settings(data_dir=tmp_path / "data", questions_file=questions_file)
        assert runtime.adapter_folder() == runtime.settings.adapter_path  # the shipped adapter, configured
    finally:
        store.close()
