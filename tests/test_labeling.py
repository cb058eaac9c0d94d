"""The raters panel on a real SQLite store: queue votes give agreement, every rater's vote feeds the style
control, the Leaderboard tab shows both, the export's agreed-only filter keeps what raters agreed on."""

from __future__ import annotations

import pytest

from components.leaderboard import build_leaderboard_tab
from pipelines.common.auth import AdminAuth
from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.labeling import labeling_report
from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.store import FeedbackStore
from tests.tab_handlers import tab_events

LONG = "The vault code is 7741-Quince, " + "as the guard's ledger records in full detail " * 6


def exchange(store: FeedbackStore, n: int, rag_answer: str, finetuned_answer: str) -> str:
    return store.record_exchange("batch-20261206T100000", f"Question {n}?", [
        PipelineResult("rag", rag_answer, [], None, Timings(0.1, 1), "m"),
        PipelineResult("finetuned", finetuned_answer, [], None, Timings(0.1, 1), "m")])


@pytest.fixture
def rated(tmp_path):
    """Six items, three raters each: on items 0-3 all three choose RAG; on 4-5 carol alone goes against the
    others; alice and bob also agree with the gold choice (RAG) everywhere."""
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    ids = [exchange(store, n, LONG, "7741-Quince.") for n in range(6)]
    queues = RatingQueues(store)
    queue = queues.create("vault", ids, raters_per_item=3, gold={ids[0]: "rag"})
    for rater in ("alice", "bob", "carol"):
        while (item := queues.next_item(queue.id, rater)) is not None:
            careless = rater == "carol" and item.exchange_id in ids[4:]
            queues.vote(queue.id, item.exchange_id, rater, "finetuned" if careless else "rag", session_id=rater)
    return store, ids, queue


def test_the_report_reads_queue_agreement_and_every_raters_vote(rated):
    store, ids, _queue = rated
    report = labeling_report(store, agreement_rounds=200, style_rounds=50)
    assert report.queue_votes == 18 and report.agreement.items == 6
    assert report.agreement.pairwise == pytest.approx((4 * 3 + 2 * 1) / 18)   # agreeing pairs of 3 per item
    by_rater = {r.rater: r for r in report.agreement.raters}
    assert by_rater["carol"].with_majority == pytest.approx(4 / 6) and by_rater["alice"].with_majority == 1.0
    assert by_rater["alice"].gold_n == 1 and by_rater["alice"].gold_accuracy == 1.0
    assert report.style.battles == 18   # each rater's vote on each item, not one per item
    only_two = labeling_report(store, exchange_ids=ids[:2], agreement_rounds=50, style_rounds=20)
    assert only_two.agreement.items == 2 and only_two.style.battles == 6


def test_the_leaderboard_tab_shows_agreement_and_style_controlled_ratings(rated, tmp_path):
    store, _ids, _queue = rated
    events = tab_events(lambda: build_leaderboard_tab(store, AdminAuth(None), []))
    shown = events["show_labeling"].fn(False, False, "", "")
    agreement, raters, sentence, style, coefficients = shown
    assert "over 6 items" in agreement and "Krippendorff" in agreement and "95% interval" in agreement
    assert sorted(raters["rater"]) == ["alice", "bob", "carol"]
    assert raters.set_index("rater").loc["carol", "with the majority of the others"] == "67%"
    assert set(style["pipeline"]) == {"RAG", "Fine-tuned"} and "18 comparisons" in sentence
    assert "answer length (words)" in set(coefficients["style feature"])
    only_carol = events["show_labeling"].fn(False, False, "", "carol")
    assert "6 comparisons" in only_carol[2]   # the leaderboard's rater filter narrows the style votes
    nothing = FeedbackStore.open(tmp_path / "empty.sqlite3")
    empty = tab_events(lambda: build_leaderboard_tab(nothing, AdminAuth(None), []))["show_labeling"].fn(
        False, False, "", "")
    assert "no item has two votes yet" in empty[0] and "no vote yet" in empty[2]


def test_the_export_button_keeps_only_agreed_items_when_asked(rated):
    import json
    from pathlib import Path

    store, _ids, _queue = rated
    export = tab_events(lambda: build_leaderboard_tab(store, AdminAuth(None), []))["do_export"].fn
    every = {Path(f).name: f for f in export("", False, False)}
    agreed = {Path(f).name: f for f in export("", False, True)}
    assert set(every) == {"dpo.jsonl", "ratings.jsonl", "queue_votes.jsonl", "agreement.json"}

    def dpo_questions(files: dict) -> set:
        return {json.loads(line)["prompt"] for line in Path(files["dpo.jsonl"]).read_text().splitlines()}

    assert len(dpo_questions(every)) == 6 and len(dpo_questions(agreed)) == 4   # carol's two split items left out
    assert len(Path(every["queue_votes.jsonl"]).read_text().splitlines()) == 18


def test_the_verdict_page_carries_agreement_and_style_control_for_its_exchanges(rated, tmp_path):
    from pipelines.common.questions import QuestionItem
    from pipelines.evaluation.verdict import build_verdict, render_html, render_markdown

    store, ids, _queue = rated
    items = [QuestionItem(id=f"q{n}", question=f"Question {n}?", reference="7741-Quince", keys=("7741-Quince",),
                          source="vault.md") for n in range(6)]
    verdict = build_verdict(store, items, set_name="vault.jsonl", exchange_ids=ids[:4], rounds=20)
    assert verdict.raters is not None and verdict.raters.agreement.items == 4
    page = render_html(verdict)
    assert "Human raters" in page and "over 4 answer pairs" in page and "Krippendorff" in page
    assert "rating, style held equal" in page and "12 comparisons" in page
    assert "over 4 answer pairs" in render_markdown(verdict)
    unvoted = FeedbackStore.open(tmp_path / "unvoted.sqlite3")
    other = exchange(unvoted, 0, "a", "b")
    quiet = build_verdict(unvoted, items, set_name="vault.jsonl", exchange_ids=[other], rounds=20)
    assert quiet.raters is None and "No human votes on these answers yet" in render_html(quiet)


def test_the_command_line_exports_only_agreed_items_when_asked(rated, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    every, agreed = tmp_path / "every", tmp_path / "agreed"
    command = [sys.executable, "-m", "pipelines.feedback", "export", "--db", str(tmp_path / "feedback.sqlite3")]
    subprocess.run([*command, "--out", str(every)], check=True, capture_output=True, text=True,
                   cwd=Path(__file__).resolve().parent.parent)
    done = subprocess.run([*command, "--out", str(agreed), "--agreed-only"], check=True, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)
    assert "4 DPO pairs" in done.stdout and "18 queue votes" in done.stdout and "(4 items agreed)" in done.stdout
    assert len((every / "dpo.jsonl").read_text().splitlines()) == 6
    assert len((agreed / "dpo.jsonl").read_text().splitlines()) == 4
