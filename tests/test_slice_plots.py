"""Where each approach wins, drawn: the accuracy plot's frame on the small fixed set of tests/test_slices.py (bars
only for slices with enough answers, the table's numbers, the others left out and named), and the Leaderboard
tab's slices table and plot from a real SQLite store through the runtime's ``stored_slices`` (a stand-in runtime:
store and settings, no model)."""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

import pandas as pd
import pytest

from components.leaderboard import build_leaderboard_tab
from components.slices_view import SLICE_COLUMNS
from pipelines.common.auth import AdminAuth
from pipelines.common.correctness import proportion_interval
from pipelines.common.events import PipelineResult, RetrievedChunk
from pipelines.common.settings import Settings
from pipelines.evaluation.saved_question_sets import SavedQuestionSets
from pipelines.evaluation.slice_plots import PLOT_COLUMNS, X, accuracy_plot
from pipelines.evaluation.slices import BY_DOCUMENT, BY_RETRIEVAL, BY_TYPE, slice_by, slice_table
from pipelines.feedback.store import FeedbackStore
from pipelines.runtime import Runtime
from tests.tab_handlers import tab_handlers
from tests.test_slices import answers_and_votes


def test_the_plot_has_a_bar_per_slice_with_enough_answers_and_names_the_rest():
    answers, votes = answers_and_votes()
    slices = slice_by(answers, votes, BY_TYPE, rounds=5)
    plot = accuracy_plot(slices)
    assert list(plot.frame.columns) == PLOT_COLUMNS
    # six number questions per column: drawn; two lookup and one out-of-corpus question per column: too few
    assert list(zip(plot.frame["slice"], plot.frame["pipeline"], strict=True)) == [
        ("number", "Fine-tuned"), ("number", "RAG")]
    assert list(plot.frame[X]) == ["number · Fine-tuned", "number · RAG"]
    rag = plot.frame.set_index("pipeline").loc["RAG"]
    wilson = proportion_interval(5, 6)
    assert (rag["accuracy"], rag["low"], rag["high"], rag["n"]) == (wilson.mean, wilson.low, wilson.high, 6)
    assert plot.left_out == ("lookup · Fine-tuned (n=2)", "lookup · RAG (n=2)", "out-of-corpus · Fine-tuned (n=1)",
                             "out-of-corpus · RAG (n=1)")
    assert plot.caption == ("Left out, too few answers: lookup · Fine-tuned (n=2), lookup · RAG (n=2), "
                            "out-of-corpus · Fine-tuned (n=1), out-of-corpus · RAG (n=1)")
    # the bars are the table's numbers; the table keeps the slices the plot leaves out, saying "too few"
    table = {(row["slice"], row["pipeline"]): row["accuracy"] for row in slice_table(slices)}
    for _, bar in plot.frame.iterrows():
        shown = table[(bar["slice"], bar["pipeline"])]
        assert shown == f"{bar['accuracy']:.0%} [{bar['low']:.0%}, {bar['high']:.0%}] (n={bar['n']})"
    assert table[("lookup", "RAG")] == "too few (n=2)"


def test_a_lower_minimum_draws_the_small_slices_and_no_slices_draw_nothing():
    answers, votes = answers_and_votes()
    plot = accuracy_plot(slice_by(answers, votes, BY_RETRIEVAL, minimum=1, rounds=5))
    assert plot.left_out == () and plot.caption == ""
    assert set(plot.frame["slice"]) == {"hit", "miss", "no retrieval"}
    miss = plot.frame[plot.frame["slice"] == "miss"].set_index("pipeline")["accuracy"]
    assert (miss["Fine-tuned"], miss["RAG"]) == (1.0, 0.0)  # where retrieval missed, only fine-tuning was right
    empty = accuracy_plot([])
    assert empty.frame.empty and list(empty.frame.columns) == PLOT_COLUMNS and empty.caption == ""
    assert empty.frame["accuracy"].dtype == float  # a numeric axis even with no bars


WEIGH = "How much does a Tessel T4 weigh?"
SUPPORT = "Who leads support?"


def question_set(path):
    path.write_text("\n".join(json.dumps(row) for row in [
        {"id": "q05", "question": WEIGH, "key": "380 grams", "source": "tessel_t4_datasheet.md"},
        {"id": "q15", "question": SUPPORT, "key": "Agnieszka Domaradzka", "source": "support_policy.txt",
         "type": "lookup"},
    ]) + "\n")
    return path


@pytest.fixture
def stored(tmp_path):
    """A real SQLite store: the weight question asked 6 times (RAG right 5 times, the fine-tuned column once;
    RAG wins 5 of the 6 votes), the support question twice (scored, not voted), one question outside the set."""
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    chunk = RetrievedChunk("A Tessel T4 weighs 380 grams.", "tessel_t4_datasheet.md", 0, 0.9, 1)
    for i in range(6):
        exchange_id = store.record_exchange(f"s{i}", WEIGH, [
            PipelineResult("rag", "It weighs 380 grams." if i else "It weighs 400 grams.", [chunk]),
            PipelineResult("finetuned", "It weighs 380 grams." if i == 0 else "It weighs 200 grams.",
                           adapter_id="qlora@cddbd89b")])
        store.add_vote(exchange_id, "rag" if i else "finetuned", session_id=f"s{i}")
    for i in range(2):
        exchange_id = store.record_exchange(f"t{i}", SUPPORT, [
            PipelineResult("rag", "Agnieszka Domaradzka leads support."),
            PipelineResult("finetuned", "Tomasz Quell.", adapter_id="qlora@cddbd89b")])
        store.add_scores(exchange_id, [{"pipeline": "rag", "metric": "rouge_score", "value": 0.6, "status": "ok"}],
                         "ragas")
    outside = store.record_exchange("u", "Not in the set?", [PipelineResult("rag", "x"), PipelineResult("finetuned",
                                                                                                        "y")])
    store.add_vote(outside, "rag", session_id="u")
    settings = Settings(data_dir=tmp_path / "data", questions_file=question_set(tmp_path / "set.jsonl"),
                        adapter_path=tmp_path / "none")
    runtime = SimpleNamespace(settings=settings, feedback=store, backend=None,
                              chosen_question_set=SavedQuestionSets(settings.data_dir, settings.questions_file).chosen,
                              question_set_documents=lambda chosen: settings.corpus_dir)
    runtime.adapter_folder = functools.partial(Runtime.adapter_folder, runtime)
    yield runtime
    store.close()


def leaderboard_handlers(runtime, stored_slices) -> dict:
    return tab_handlers(lambda: build_leaderboard_tab(runtime.feedback, AdminAuth(None), [WEIGH, SUPPORT],
                                                      stored_slices=stored_slices))


def test_the_leaderboard_shows_where_each_approach_wins_from_the_stored_answers(stored):
    handlers = leaderboard_handlers(stored, functools.partial(Runtime.stored_slices, stored))
    table, plot, note = handlers["show_slices"](BY_TYPE)
    assert note == ""
    assert isinstance(table, pd.DataFrame) and list(table.columns) == SLICE_COLUMNS
    rows = {(row["slice"], row["pipeline"]): row for _, row in table.iterrows()}
    assert set(rows) == {("number", "RAG"), ("number", "Fine-tuned"), ("lookup", "RAG"), ("lookup", "Fine-tuned")}
    assert rows[("number", "RAG")]["accuracy"] == str(proportion_interval(5, 6)) == "83% [44%, 97%] (n=6)"
    assert rows[("number", "Fine-tuned")]["accuracy"] == str(proportion_interval(1, 6))
    assert rows[("number", "RAG")]["votes"].startswith("RAG ")  # Bradley-Terry, strongest first, with intervals
    assert "wins 83% [44%, 97%] (n=6)" in rows[("number", "RAG")]["votes"]
    assert rows[("lookup", "RAG")]["accuracy"] == "too few (n=2)" and rows[("lookup", "RAG")]["votes"] == (
        "too few (n=0)")
    bars = {(row[1], row[2]): row[3] for row in plot.value["data"]}  # slice · pipeline, slice, pipeline, accuracy
    assert bars == pytest.approx({("number", "RAG"): 5 / 6, ("number", "Fine-tuned"): 1 / 6})  # JSON: 10 digits
    assert plot.caption == "Left out, too few answers: lookup · Fine-tuned (n=2), lookup · RAG (n=2)"

    by_document, document_plot, _ = handlers["show_slices"](BY_DOCUMENT)
    assert set(by_document["slice"]) == {"tessel_t4_datasheet.md", "support_policy.txt"}
    assert {row[1] for row in document_plot.value["data"]} == {"tessel_t4_datasheet.md"}


def test_the_leaderboard_slices_say_why_they_are_empty(stored, tmp_path):
    stored.settings = Settings(data_dir=tmp_path / "data", questions_file=tmp_path / "missing.jsonl",
                               adapter_path=tmp_path / "none")
    stored.chosen_question_set = SavedQuestionSets(stored.settings.data_dir, stored.settings.questions_file).chosen
    table, plot, note = leaderboard_handlers(stored, functools.partial(Runtime.stored_slices, stored))[
        "show_slices"](BY_TYPE)
    assert note.startswith("⚠️ missing.jsonl cannot be read") and table.empty and plot.value["data"] == []
    table, plot, note = leaderboard_handlers(stored, None)["show_slices"](BY_TYPE)
    assert note == "Slices are unavailable in this app." and table.empty
    table, plot, note = leaderboard_handlers(stored, lambda dimension: [])["show_slices"](BY_TYPE)
    assert note.startswith("No stored answer to the question set yet") and plot.caption is None


def test_the_leaderboard_refresh_and_the_dimension_redraw_the_slices(stored):
    """The refresh button's event (also clicked when the tab opens) is followed by the slices' handler, and a
    new dimension runs it again, each into the slices table, plot and note."""
    import gradio as gr

    with gr.Blocks() as demo:
        build_leaderboard_tab(stored.feedback, AdminAuth(None), [], stored_slices=lambda dimension: [])
    events = list(demo.fns.values())
    refresh = next(e for e in events if e.name == "show" and e.api_name == "leaderboard")
    sliced = [e for e in events if e.name == "show_slices"]
    assert [(e.trigger_after, e.targets[0][1]) for e in sliced] == [(refresh._id, "then"), (None, "change")]
    for event in sliced:
        assert [getattr(c, "elem_id", None) for c in event.inputs] == ["leaderboard-slices-dimension"]
        assert [getattr(c, "elem_id", None) for c in event.outputs] == [
            "leaderboard-slices-table", "leaderboard-slices-plot", "leaderboard-slices-note"]
