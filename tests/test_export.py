"""Export round trip on a real SQLite store, loaded back with ``datasets``."""

import json
import subprocess
import sys

import pytest
from datasets import load_dataset

from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.export import dpo_rows, export_feedback, store_agreed_items
from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.store import FeedbackStore
from tests.conftest import ROOT


def _exchange(store, question, rag="rag answer", ft="ft answer", ft_error=None):
    return store.record_exchange("s1", question, [
        PipelineResult("rag", rag, [], None, Timings(0.1, 1, 0.01, 3), "m"),
        PipelineResult("finetuned", ft, [], ft_error, Timings(0.1, 1, None, 3), "m", "adapter@1"),
    ])


def test_dpo_pairs_skip_ties_and_use_the_latest_vote(tmp_path):
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    changed = _exchange(store, "q1", rag="<b>R1</b>", ft="F1")
    store.add_vote(changed, "rag", session_id="s1")
    store.add_vote(changed, "finetuned", session_id="s1")  # changed mind: only this one counts
    store.add_vote(_exchange(store, "q2"), "tie", session_id="s1")
    store.add_vote(_exchange(store, "q3"), "both_bad", session_id="s1")
    store.add_vote(_exchange(store, "q4", ft="", ft_error="boom"), "rag", session_id="s1")
    _exchange(store, "never voted")

    result = export_feedback(store, tmp_path / "out")
    dpo = load_dataset("json", data_files=str(result.dpo_jsonl), split="train")
    assert dpo.num_rows == 1
    assert (dpo[0]["prompt"], dpo[0]["chosen"], dpo[0]["rejected"]) == ("q1", "F1", "<b>R1</b>")
    assert dpo[0]["chosen_adapter"] == "adapter@1"

    ratings = load_dataset("json", data_files=str(result.ratings_jsonl), split="train")
    labels = {(r["prompt"], r["pipeline"]): r["label"] for r in ratings}
    assert labels == {("q1", "rag"): False, ("q1", "finetuned"): True, ("q2", "rag"): True,
                      ("q2", "finetuned"): True, ("q3", "rag"): False, ("q3", "finetuned"): False,
                      ("q4", "rag"): True}


def test_empty_store_exports_empty_valid_files_from_the_command_line(tmp_path):
    db = tmp_path / "empty.sqlite3"
    FeedbackStore.open(db)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "pipelines.feedback", "export", "--db", str(db), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert "0 DPO pairs" in run.stdout
    for name in ("dpo.jsonl", "ratings.jsonl", "queue_votes.jsonl"):
        assert (out / name).read_text() == ""
    assert json.loads((out / "agreement.json").read_text())["queues"] == []
    assert [json.loads(line) for line in (out / "dpo.jsonl").read_text().splitlines()] == []


def _rate(queues: RatingQueues, queue_id: str, votes: dict[str, dict[str, str]]) -> None:
    """Each rater takes the queue's items in order and votes as ``votes[rater][question]`` says; a rater leaves
    at the first item their dict does not name."""
    for rater, choices in votes.items():
        while (item := queues.next_item(queue_id, rater)) is not None:
            if item.question not in choices:
                queues.release(queue_id, rater)
                break
            queues.vote(queue_id, item.exchange_id, rater, choices[item.question], session_id=f"s-{rater}")


def _queue_store(tmp_path):
    """A store with one queue of three items rated by ann, bob and cy: q1 agreed (finetuned), q2 split, q3 agreed
    tie; q2 is a gold item (rag); the guidelines changed before cy voted."""
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    ids = [_exchange(store, q, rag=f"R-{q}", ft=f"F-{q}") for q in ("q1", "q2", "q3")]
    queues = RatingQueues(store)
    queue = queues.create("November", ids, raters_per_item=3, guidelines="Prefer sourced answers.",
                          gold={ids[1]: "rag"})
    _rate(queues, queue.id, {"ann": {"q1": "finetuned", "q2": "rag", "q3": "tie"},
                             "bob": {"q1": "finetuned", "q2": "finetuned", "q3": "tie"}})
    queues.set_guidelines(queue.id, "Prefer sourced answers. A tie when both are right.")
    _rate(queues, queue.id, {"cy": {"q1": "finetuned", "q2": "rag", "q3": "tie"}})
    store.add_vote(_exchange(store, "arena only", rag="R", ft="F"), "rag", session_id="s9")  # one rater: never agreed
    return store, queue, ids


def test_queue_votes_and_agreement_are_exported_with_raters_as_pseudonyms(tmp_path):
    store, queue, ids = _queue_store(tmp_path)
    result = export_feedback(store, tmp_path / "out")
    assert (result.queue_votes, result.agreed_items) == (9, 2)

    votes = load_dataset("json", data_files=str(result.queue_votes_jsonl), split="train")
    assert votes.num_rows == 9
    assert set(votes["rater"]) == {"rater-1", "rater-2", "rater-3"}  # no user names without include_raters
    by_vote = {(r["exchange_id"], r["rater"]): r for r in votes}
    assert by_vote[(ids[1], "rater-2")]["choice"] == "finetuned"
    assert by_vote[(ids[1], "rater-2")]["gold"] == "rag" and by_vote[(ids[0], "rater-1")]["gold"] is None
    assert {r["rater"]: r["guidelines_version"] for r in votes} == {"rater-1": 1, "rater-2": 1, "rater-3": 2}
    assert {r["queue"] for r in votes} == {"November"} and votes[0]["pipelines"] == ["rag", "finetuned"]

    figures = json.loads(result.agreement_json.read_text())
    (only,) = figures["queues"]
    assert (only["queue_id"], only["name"], only["guidelines_version"], only["votes"]) == (queue.id, "November", 2, 9)
    assert only["items"] == 3 and only["pairwise"] == pytest.approx(7 / 9)  # q2: 1 of 3 pairs agree
    assert only["alpha_low"] <= only["alpha"] <= only["alpha_high"]
    raters = {r["rater"]: r for r in only["raters"]}
    assert raters["rater-2"]["with_majority"] == pytest.approx(2 / 3)  # bob left the others' rag on q2
    assert (raters["rater-2"]["gold_accuracy"], raters["rater-2"]["gold_n"]) == (0.0, 1)
    assert raters["rater-1"]["gold_accuracy"] == 1.0
    assert figures["all"]["alpha"] == pytest.approx(only["alpha"]) and figures["agreed_items"] == 2

    named = export_feedback(store, tmp_path / "named", include_raters=True)
    assert {r["rater"] for r in load_dataset("json", data_files=str(named.queue_votes_jsonl), split="train")} == {
        "ann", "bob", "cy"}


def test_agreed_only_keeps_the_items_raters_agreed_on(tmp_path):
    store, _queue, ids = _queue_store(tmp_path)
    everything = export_feedback(store, tmp_path / "all")
    assert everything.dpo_pairs == 3  # q1, q2 (its latest vote, cy's rag) and the arena-only exchange

    agreed = export_feedback(store, tmp_path / "agreed", agreed_only=True)
    dpo = load_dataset("json", data_files=str(agreed.dpo_jsonl), split="train")
    assert [(r["exchange_id"], r["chosen"], r["rejected"]) for r in dpo] == [(ids[0], "F-q1", "R-q1")]
    ratings = load_dataset("json", data_files=str(agreed.ratings_jsonl), split="train")
    assert {(r["prompt"], r["pipeline"], r["label"]) for r in ratings} == {
        ("q1", "rag", False), ("q1", "finetuned", True), ("q3", "rag", True), ("q3", "finetuned", True)}
    assert json.loads(agreed.agreement_json.read_text())["agreed_only"] is True

    assert store_agreed_items(store) == {ids[0]: "finetuned", ids[2]: "tie"}
    assert [r["exchange_id"] for r in dpo_rows(store.rated_exchanges(), agreed=store_agreed_items(store))] == [ids[0]]


def test_an_agreed_choice_overrides_the_latest_vote_and_a_store_without_queues_exports_empty_figures(tmp_path):
    rated = [{"exchange_id": "e1", "question": "q", "choice": "rag", "session_id": "s", "rater": "r",
              "voted_at": "2026", "answers": [
                  {"pipeline": "rag", "answer": "R", "error": None, "adapter_id": None},
                  {"pipeline": "finetuned", "answer": "F", "error": None, "adapter_id": "a@1"}]}]
    assert dpo_rows(rated, agreed={"e1": "finetuned"})[0]["chosen"] == "F"
    assert dpo_rows(rated, agreed={}) == [] and len(dpo_rows(rated)) == 1

    store = FeedbackStore.open(tmp_path / "plain.sqlite3")
    store.add_vote(_exchange(store, "q"), "rag", session_id="s")
    result = export_feedback(store, tmp_path / "out", agreed_only=True)
    assert (result.dpo_pairs, result.ratings, result.queue_votes, result.agreed_items) == (0, 0, 0, 0)
    assert result.queue_votes_jsonl.read_text() == ""
    figures = json.loads(result.agreement_json.read_text())
    assert figures["queues"] == [] and figures["all"]["items"] == 0 and figures["all"]["alpha"] is None


def test_an_exchange_in_two_queues_pools_its_votes_with_each_raters_latest(tmp_path):
    store, _queue, ids = _queue_store(tmp_path)
    queues = RatingQueues(store)
    again = queues.create("December", [ids[1], _exchange(store, "q4", rag="R-q4", ft="F-q4")], raters_per_item=2)
    _rate(queues, again.id, {"ann": {"q2": "finetuned", "q4": "rag"}, "cy": {"q2": "finetuned"}})
    # q2: ann and cy changed their minds to bob's finetuned; q4 has one vote only
    assert store_agreed_items(store) == {ids[0]: "finetuned", ids[1]: "finetuned", ids[2]: "tie"}
    result = export_feedback(store, tmp_path / "out", agreed_only=True)
    figures = json.loads(result.agreement_json.read_text())
    assert [q["name"] for q in figures["queues"]] == ["December", "November"]  # newest first
    assert (figures["all"]["votes"], figures["agreed_items"], result.queue_votes) == (10, 3, 12)
    dpo = load_dataset("json", data_files=str(result.dpo_jsonl), split="train")
    assert sorted((r["prompt"], r["chosen"]) for r in dpo) == [("q1", "F-q1"), ("q2", "F-q2")]
