import sqlite3

import pytest

from pipelines.events import PipelineResult, RetrievedChunk, Timings
from pipelines.feedback import FeedbackError, FeedbackStore


def _results():
    chunk = RetrievedChunk("<script>alert(1)</script> text", "a.md", 0, 0.9, 1)
    return [
        PipelineResult("rag", "answer [1]", [chunk], None, Timings(0.1, 1.0, 0.01, 5), "m", None),
        PipelineResult("finetuned", "", [], "adapter missing", None, "m", "ad@1"),
    ]


def test_exchange_round_trip_and_votes_are_append_only(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    exchange_id = store.record_exchange("s1", "question?", _results())
    exchange = store.exchange(exchange_id)
    assert exchange["question"] == "question?"
    assert exchange["answers"]["rag"]["contexts"][0]["text"].startswith("<script>")
    assert exchange["answers"]["finetuned"]["error"] == "adapter missing"
    first = store.add_vote(exchange_id, "rag", session_id="s1")
    second = store.add_vote(exchange_id, "tie", session_id="s1")
    assert second > first
    assert [v["choice"] for v in store.votes(exchange_id)] == ["rag", "tie"]


def test_vote_is_on_disk_for_another_connection(tmp_path):
    path = tmp_path / "f.sqlite3"
    store = FeedbackStore(path)
    exchange_id = store.record_exchange("s1", "q", _results())
    store.add_vote(exchange_id, "both_bad", session_id="s1")
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT choice FROM votes").fetchall() == [("both_bad",)]
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_votes_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    with pytest.raises(FeedbackError, match="unknown"):
        store.add_vote("no-such-exchange", "rag", session_id="s1")
    exchange_id = store.record_exchange("s1", "q", _results())
    with pytest.raises(FeedbackError, match="Unknown vote"):
        store.add_vote(exchange_id, "rag-ish", session_id="s1")
    assert store.votes() == []


def test_scores_replace_previous_run_of_same_scorer(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    exchange_id = store.record_exchange("s1", "q", _results())
    store.add_vote(exchange_id, "rag", session_id="s1")
    row = {"pipeline": "rag", "metric": "rouge_score", "value": 0.5, "status": "ok"}
    store.add_scores(exchange_id, [row], scorer="x")
    store.add_scores(exchange_id, [{**row, "value": 0.7}], scorer="x")
    assert [s["value"] for s in store.scores(exchange_id)] == [0.7]
    rows = store.scored_votes()
    assert rows[0]["vote"] == "rag" and rows[0]["metric"] == "rouge_score"
