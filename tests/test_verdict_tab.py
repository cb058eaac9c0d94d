"""The Evaluation tab's verdict panel on a stand-in ``verdict_page``: the recommendation, the page and the slice
table for the chosen dimension, after a batch run and from the stored answers."""

from __future__ import annotations

from components.evaluation import SLICE_COLUMNS, build_evaluation_tab
from pipelines.evaluation.slices import BY_TYPE
from pipelines.evaluation.verdict import VerdictPage, verdict_from_exchanges, write_verdict
from pipelines.feedback.store import FeedbackStore
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
    summary, path, tables, frame = handlers["show_stored_verdict"](BY_TYPE)
    assert asked == [True] and path == str(page)
    assert "### Verdict: Too little evidence" in summary and verdict.recommendation.text in summary
    assert list(frame.columns) == SLICE_COLUMNS and set(frame["pipeline"]) == {"RAG", "Fine-tuned"}
    assert list(frame["accuracy"]) == ["17% [3%, 56%] (n=6)", "83% [44%, 97%] (n=6)"]  # Fine-tuned, then RAG
    by_document = handlers["slice_frame"](tables, "document")
    assert list(by_document["slice"]) == ["a.md", "a.md"]
    handlers["show_batch_verdict"]("retrieval")
    assert asked == [True, False]
    assert handlers["slice_frame"]({}, "adapter").empty
