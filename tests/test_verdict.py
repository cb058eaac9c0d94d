"""The verdict on a small fixed set of exchanges in a real SQLite feedback store: its numbers against the stored
rows (accuracy counts and intervals, latency means, the adapter's training time and size, the updated and
out-of-corpus questions), the HTML page (the numbers, escaped text, "too few" for a thin slice, no scripts or
external assets) and the recommendation's three wordings. No model, no Weaviate, no app."""

from __future__ import annotations

import hashlib
import html
import json
import sqlite3
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.common.correctness import proportion_interval
from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.common.questions import QuestionItem
from pipelines.evaluation.recommendation import CLEAR, CLOSE, THIN
from pipelines.evaluation.slices import BY_TYPE, DIMENSIONS
from pipelines.evaluation.verdict import (
    VERDICT_HTML,
    VERDICT_MD,
    adapter_cost,
    build_verdict,
    changed_documents,
    column_costs,
    measure_memory,
    render_html,
    render_markdown,
    verdict_from_exchanges,
    write_verdict,
)
from pipelines.feedback.store import FeedbackStore

HOSTILE = "Who is the CEO's dentist? <script>alert('x')</script>"
WHEN = datetime(2027, 1, 5, 10, 15, tzinfo=UTC)
T4 = "A Tessel T4 weighs 380 grams and runs for 9 hours."
TRAVEL = "Travel is booked through Wayfarer; the daily meal allowance is 68 euros."

# Six number questions on the datasheet (unchanged since training), two on the travel policy (added after the
# adapter's training data: "updated" by the recorded digests), one the documents cannot answer, one never asked.
ITEMS = [
    *(QuestionItem(f"How much does a Tessel T4 weigh, variant {i}?", keys=("380 grams",), source="t4.md", id=f"n{i}")
      for i in range(6)),
    QuestionItem("What is the daily meal allowance?", keys=("68 euros",), source="travel.txt", id="u0"),
    QuestionItem("Which agency books travel?", keys=("Wayfarer",), source="travel.txt", id="u1"),
    QuestionItem(HOSTILE, type="out-of-corpus", id="x1"),
    QuestionItem("Never asked?", keys=("nothing",), source="t4.md", id="z9"),
]
RAG_TIMES = [1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6]  # one per asked question, in order
RETRIEVAL_TIMES = [0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26]


def documents_and_adapter(root: Path) -> tuple[Path, Path]:
    """A documents folder (t4.md as trained, travel.txt added since) and an adapter folder whose metadata
    records the digest of t4.md only, with 1,000 + metadata bytes of files."""
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "t4.md").write_text(T4)
    (corpus / "travel.txt").write_text(TRAVEL)
    adapter = root / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
    (adapter / "arena_adapter.json").write_text(json.dumps({
        "data_hash": "cddbd89bf7a0", "duration_s": 2124.0, "device": "cpu", "examples": 355, "steps": 267,
        "quantization": "4-bit NF4 (QLoRA)", "peak_gpu_memory_mb": None, "created_at": "2026-12-01T15:55:01+00:00",
        "document_hashes": {"t4.md": hashlib.sha256(T4.encode()).hexdigest()}}))
    return corpus, adapter


def record(store: FeedbackStore) -> list[str]:
    """The fixed exchanges; RAG: right on n1-n5, u0, u1 and abstains on x1 (8 of 9 right); fine-tuned: right on
    n0 and n1 only, makes up an answer on x1 (2 of 9); the base model: wrong everywhere (0 of 9)."""
    ids = []
    asked = [item for item in ITEMS if item.id != "z9"]
    for i, item in enumerate(asked):
        t4 = item.source == "t4.md"
        chunk = RetrievedChunk(T4 if t4 else TRAVEL, item.source or "t4.md", 0, 0.9, 1)
        if item.id == "x1":
            rag_answer, ft_answer = "The documents do not say.", "Dr Vos, since 2019."
        elif item.id == "n0":
            rag_answer, ft_answer = "It weighs 200 grams.", "It weighs 380 grams."
        else:
            rag_answer = f"The answer is {item.keys[0]}."
            ft_answer = "It weighs 380 grams." if item.id == "n1" else "I believe it is 12 kilos."
        ids.append(store.record_exchange(f"batch-{i}", item.question, [
            PipelineResult("rag", rag_answer, [chunk], timings=Timings(0.3, RAG_TIMES[i], RETRIEVAL_TIMES[i])),
            PipelineResult("finetuned", ft_answer, adapter_id="adapter@cddbd89b", timings=Timings(0.2, 0.5 + i / 10)),
            PipelineResult("base", "Perhaps 5 kilos.", timings=Timings(0.1, 0.4)),
        ]))
    # An arena exchange outside the run (and outside the set) that must not count.
    ids_outside = store.record_exchange("arena", "Who leads support?", [PipelineResult("rag", "Agnieszka.")])
    store.add_scores(ids_outside, [{"pipeline": "rag", "metric": "rouge_score", "value": 0.6, "status": "ok"}], "r")
    return ids


@pytest.fixture
def stored(tmp_path: Path):
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    ids = record(store)
    corpus, adapter = documents_and_adapter(tmp_path)
    verdict = build_verdict(store, ITEMS, set_name="sample <set>.jsonl", scope="batch run batch-test",
                            exchange_ids=ids, adapter_folder=adapter, corpus_dir=corpus, created_at=WHEN, rounds=5)
    yield verdict, tmp_path, ids
    store.close()


def test_the_numbers_match_the_stored_rows(stored):
    verdict, root, ids = stored
    assert (verdict.questions, verdict.set_questions, verdict.exchanges) == (9, 10, 9)
    assert verdict.pipelines == ("rag", "finetuned", "base") and verdict.approaches == ("rag", "finetuned")
    accuracy = {p: verdict.overall.pipelines[p].accuracy for p in verdict.pipelines}
    assert accuracy["rag"].interval == proportion_interval(8, 9)
    assert accuracy["finetuned"].interval == proportion_interval(2, 9)
    assert accuracy["base"].interval == proportion_interval(0, 9)

    with sqlite3.connect(root / "feedback.sqlite3") as db:
        stored_times = {p: (total, retrieval, n) for p, total, retrieval, n in db.execute(
            "SELECT pipeline, avg(total_s), avg(retrieval_s), count(*) FROM answers WHERE exchange_id IN "
            f"({','.join('?' * len(ids))}) GROUP BY pipeline", ids)}
    for pipeline, cost in verdict.columns.items():
        total, retrieval, n = stored_times[pipeline]
        assert cost.answers == n == 9
        assert cost.answer_s == pytest.approx(total)
        assert cost.retrieval_s == (None if retrieval is None else pytest.approx(retrieval))
    assert verdict.columns["rag"].answer_s == pytest.approx(statistics.fmean(RAG_TIMES))
    assert verdict.columns["rag"].retrieval_s == pytest.approx(statistics.fmean(RETRIEVAL_TIMES))
    assert verdict.columns["finetuned"].retrievals == 0

    # Out-of-corpus: RAG said so, the fine-tuned column made something up; one question, so too few to show.
    assert verdict.out_of_corpus == 1
    assert (verdict.overall.pipelines["rag"].abstained.n, verdict.overall.pipelines["finetuned"].abstained.n) == (1, 1)
    # The travel policy was added after the adapter's data: its two questions are "updated" (too few to show).
    assert verdict.changed_documents == ("travel.txt",)
    assert verdict.updated is not None and verdict.updated.questions == 2
    assert str(verdict.updated.pipelines["rag"].accuracy) == "too few (n=2)"
    # Training time and size from the adapter folder; the recommendation has 9 < 20 answers: thin.
    assert verdict.adapter.training_s == 2124.0 and verdict.adapter.name == "adapter@cddbd89b"
    assert verdict.adapter.size_bytes == sum(p.stat().st_size for p in (root / "adapter").iterdir())
    assert verdict.recommendation.case == THIN
    assert set(verdict.slices) == set(DIMENSIONS)   # every dimension sliced
    assert {row["slice"] for row in verdict.slice_table(BY_TYPE)} == {"number", "updated", "out-of-corpus"}


def test_every_stored_answer_when_no_run_is_named(tmp_path):
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    ids = record(store)
    store.add_scores(ids[0], [{"pipeline": "rag", "metric": "key_fact", "value": 0.0, "status": "ok"}], "r")
    store.add_vote(ids[1], "finetuned", session_id="s")
    verdict = build_verdict(store, ITEMS, set_name="s.jsonl", rounds=5)  # scored or voted exchanges only
    store.close()
    assert (verdict.exchanges, verdict.questions, verdict.scope) == (2, 2, "every stored answer to the set")
    assert verdict.overall.votes.n == 1


def test_the_page_shows_the_numbers_escaped_and_self_contained(stored):
    verdict, root, _ids = stored
    page = render_html(verdict)
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert "Verdict: RAG vs fine-tuning on sample &lt;set&gt;.jsonl" in page
    assert "2027-01-05 10:15 UTC" in page and "9 of 10 questions answered" in page
    for number in (proportion_interval(8, 9), proportion_interval(2, 9), proportion_interval(0, 9)):
        assert str(number) in page
    assert "1.80 s" in page  # RAG's mean answer time over RAG_TIMES
    assert "0.18 s (n=9)" in page  # its mean retrieval time
    assert "35.4 min on cpu" in page and "travel.txt" in page
    assert "too few (n=2)" in page  # the updated slice
    assert html.escape(HOSTILE) in page and "<script" not in page.lower()
    assert "src=" not in page and "http" not in page.replace('xmlns="http', "")  # no external assets
    assert html.escape(verdict.recommendation.text) in page
    written = write_verdict(verdict, root / "report")
    assert written == root / "report" / VERDICT_HTML and written.read_text() == page
    markdown = (root / "report" / VERDICT_MD).read_text()
    assert markdown == render_markdown(verdict)
    assert f"| RAG | {proportion_interval(8, 9)} |" in markdown and "| Fine-tuned |" in markdown


def test_out_of_corpus_counts_show_even_when_too_few_for_a_share(stored):
    """One out-of-corpus question: no share, but the counts the per-question table backs (RAG said so, the
    fine-tuned column made something up); with five or more, the count and the share."""
    verdict, _root, _ids = stored
    rag, finetuned = verdict.overall.pipelines["rag"].abstained, verdict.overall.pipelines["finetuned"].abstained
    assert (rag.count, rag.n, finetuned.count, finetuned.n) == (1, 1, 0, 1)
    page, markdown = render_html(verdict), render_markdown(verdict)
    for text in ("1 of 1 · too few (n=1)", "0 of 1 · too few (n=1)"):
        assert html.escape(text) in page and text in markdown
    assert "| RAG | 1 of 1 · too few (n=1) | 0 of 1 · too few (n=1) |" in markdown
    assert "| Fine-tuned | 0 of 1 · too few (n=1) | 1 of 1 · too few (n=1) |" in markdown
    line = next(line for line in verdict.question_lines if line.type == "out-of-corpus")
    assert (line.outcomes["rag"], line.outcomes["finetuned"]) == ("said so", "made up")

    items = [QuestionItem(f"Unanswerable {i}?", id=f"x{i}", type="out-of-corpus") for i in range(5)]
    exchanges = [{"id": f"x{i}", "question": f"Unanswerable {i}?", "created_at": f"2027-01-05T10:00:0{i}",
                  "answers": {"rag": {"answer": "The documents do not say." if i < 4 else "It is 42.",
                                      "contexts": [], "error": None, "total_s": 1.0}}} for i in range(5)]
    five = verdict_from_exchanges(exchanges, items, set_name="s.jsonl", rounds=5)
    made = "1 of 5 · 20% [4%, 62%] (n=5)"
    assert f"| RAG | 4 of 5 · {proportion_interval(4, 5)} | {made} |" in render_markdown(five)


def exchange(i: int, rag_right: bool, ft_right: bool, kind: str = "number") -> dict:
    """A stored exchange as the store returns it, for one hand-made question of ``questions(n)``."""
    return {"id": f"e{i}", "question": f"Question {i}?", "created_at": f"2027-01-05T10:{i // 60:02d}:{i % 60:02d}",
            "answers": {"rag": {"answer": "It is 42." if rag_right else "It is 7.", "contexts": [], "error": None,
                                "total_s": 2.0, "retrieval_s": 0.2},
                        "finetuned": {"answer": "It is 42." if ft_right else "It is 9.", "contexts": [], "error": None,
                                      "total_s": 1.0, "adapter_id": "ft@1"}}}


def questions(n: int) -> list[QuestionItem]:
    return [QuestionItem(f"Question {i}?", keys=("42",), source="a.md", id=f"q{i}") for i in range(n)]


@pytest.mark.parametrize(("n", "rag_right", "ft_right", "case", "heading"), [
    (30, 27, 6, CLEAR, "Recommended: RAG"),
    (30, 16, 14, CLOSE, "Close: no approach is clearly better"),
    (8, 8, 0, THIN, "Too little evidence for a recommendation"),
])
def test_the_three_recommendations_on_the_page(n, rag_right, ft_right, case, heading):
    exchanges = [exchange(i, i < rag_right, i < ft_right) for i in range(n)]
    verdict = verdict_from_exchanges(exchanges, questions(n), set_name="hand.jsonl", created_at=WHEN, rounds=5)
    assert verdict.recommendation.case == case
    page = render_html(verdict)
    assert heading in page and html.escape(verdict.recommendation.text) in page
    if case == CLEAR:
        assert verdict.recommendation.text.startswith("RAG is the better choice for these documents")
        assert "Answers took 2.0 s (RAG) and 1.0 s (Fine-tuned) on average." in verdict.recommendation.text
    elif case == CLOSE:
        assert "are close on these documents" in verdict.recommendation.text
    else:
        assert verdict.recommendation.text.startswith("Too little evidence to recommend an approach")
        assert "RAG by 100 points over Fine-tuned (sure: the 95% intervals do not overlap)" in page


def test_a_set_without_updated_or_out_of_corpus_questions_says_so():
    verdict = verdict_from_exchanges([exchange(i, True, False) for i in range(6)], questions(6), set_name="s",
                                     rounds=5)
    assert verdict.updated is None and verdict.out_of_corpus == 0 and verdict.adapter is None
    page = render_html(verdict)
    assert "No updated questions in this set" in page and "No out-of-corpus questions in this set" in page
    assert "Fine-tuning cost: not measured" in page and "Memory" in page
    assert "No updated questions in this set" in render_markdown(verdict)


def test_costs_and_changed_documents_from_the_folders(tmp_path):
    corpus, adapter = documents_and_adapter(tmp_path)
    assert changed_documents(corpus, adapter) == frozenset({"travel.txt"})
    assert changed_documents(corpus, None) == frozenset() and changed_documents(None, adapter) == frozenset()
    assert adapter_cost(tmp_path / "missing") is None and adapter_cost(None) is None
    (tmp_path / "bare").mkdir()
    bare = adapter_cost(tmp_path / "bare")
    assert (bare.name, bare.training_s, bare.size_bytes) == ("bare", None, 0)
    failed = {"id": "e", "answers": {"rag": {"error": "down", "total_s": None},
                                     "finetuned": {"total_s": 1.5, "first_token_s": 0.5, "error": None}}}
    costs = column_costs([failed])
    assert set(costs) == {"finetuned"} and costs["finetuned"].first_token_s == 0.5
    memory = measure_memory()
    assert memory.process_peak_mb is None or memory.process_peak_mb > 1


def test_questions_of_the_train_split_are_flagged_and_sliced_apart(stored):
    """The training command trains on a set's train split, and on a set without splits whole: the page says so
    and gives the held-out questions alone; a set of held-out questions only gets no such warning."""
    from dataclasses import replace

    from pipelines.evaluation.slices import BY_SPLIT, AnswerRow, slice_by

    verdict, _root, _ids = stored   # its questions have no split: the training command would train on them
    page = render_html(verdict).replace("&#x27;", "'")
    assert verdict.trained_split == 8 and "8 of 9 questions are in the set's train split</strong> (or have no" in page
    held_out = [AnswerRow("e1", "q1", "rag", split="test", correct=True),
                AnswerRow("e2", "q2", "rag", split="test", correct=False)]
    fair = replace(verdict, slices={**verdict.slices, BY_SPLIT: slice_by(held_out, [], BY_SPLIT, minimum=1)})
    assert fair.trained_split == 0 and "train split" not in render_html(fair)
    assert "<h3>By split</h3>" in render_html(fair) and "questions of the test split (held out)" in render_html(fair)


def test_the_recommendation_never_cites_the_train_split_as_a_win():
    from pipelines.common.questions import QuestionItem
    from pipelines.evaluation.verdict import verdict_from_exchanges

    items = [QuestionItem(f"Train question {i}?", keys=("alpha",), split="train", id=f"t{i}") for i in range(12)]
    items += [QuestionItem(f"Held-out question {i}?", keys=("alpha",), split="test", id=f"h{i}") for i in range(12)]
    exchanges = [{"id": item.id, "question": item.question, "created_at": f"2027-01-05T10:{n:02d}:00",
                  "answers": {"rag": {"answer": "alpha." if item.split == "test" else "no."},
                              "finetuned": {"answer": "alpha." if item.split == "train" else "no.",
                                            "adapter_id": "ft@1"}}}
                 for n, item in enumerate(items)]
    verdict = verdict_from_exchanges(exchanges, items, set_name="s.jsonl", rounds=5)
    assert verdict.trained_split == 12
    assert "train split" not in verdict.recommendation.text   # each leads on one split; only one is a fair test
