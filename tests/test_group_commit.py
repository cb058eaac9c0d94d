"""Group commit of SQLite votes: votes that arrive while one commits share the next transaction (one fsync),
each caller gets its own outcome only once its transaction committed, and a bad vote refuses only itself.

The grouping is made deterministic by holding the store's write lock (what a commit in progress holds)
while the votes queue up, on a real SQLite file; the GroupCommit unit tests use an in-memory commit function
as a seam beside those.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import event

from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.group_commit import GroupCommit
from pipelines.feedback.store import FeedbackError, FeedbackStore, VoteLimitError

pytestmark = pytest.mark.timeout(30)  # a lost wake-up would hang the callers: fail instead


def _results() -> list[PipelineResult]:
    return [PipelineResult("rag", "a", [], None, Timings(0.1, 1.0), "m"),
            PipelineResult("finetuned", "b", [], None, Timings(0.1, 1.0), "m")]


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _queued(group: GroupCommit) -> int:
    with group._changed:
        return len(group._queue)


def _vote_in_thread(store: FeedbackStore, outcomes: dict, key, *args, **kwargs) -> threading.Thread:
    def run() -> None:
        try:
            outcomes[key] = store.add_vote(*args, **kwargs)
        except Exception as exc:  # recorded for the assertions
            outcomes[key] = exc

    thread = threading.Thread(target=run, daemon=True)  # a failed test must not keep the process alive
    thread.start()
    return thread


def test_votes_queued_behind_a_commit_share_one_transaction_and_each_is_on_disk_when_acknowledged(store, tmp_path):
    exchange_ids = [store.record_exchange(f"s{i}", "q", _results()) for i in range(10)]
    commits = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    outcomes: dict = {}
    with store._write_lock:  # a commit in progress: the first vote leads and waits here, the others queue
        threads = [_vote_in_thread(store, outcomes, 0, exchange_ids[0], "rag", session_id="s0")]
        _wait_until(lambda: store._votes._leading)
        threads += [_vote_in_thread(store, outcomes, i, exchange_ids[i], "tie", session_id=f"s{i}")
                    for i in range(1, 10)]
        _wait_until(lambda: _queued(store._votes) == 9)
        assert outcomes == {}  # nothing acknowledged while nothing is committed
    for thread in threads:
        thread.join(timeout=30)
    assert len(commits) == 2  # the first vote alone, then the nine that queued behind it together
    assert sorted(outcomes) == list(range(10)) and len(set(outcomes.values())) == 10
    # Acknowledged = committed, seen by another connection.
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as other:
        stored = dict(other.execute("SELECT id, exchange_id FROM votes").fetchall())
    assert {vote_id: stored[vote_id] for vote_id in outcomes.values()} == \
        {outcomes[i]: exchange_ids[i] for i in range(10)}


def test_an_unknown_exchange_in_a_group_refuses_only_that_vote(store):
    exchange_ids = [store.record_exchange(f"s{i}", "q", _results()) for i in range(4)]
    unknown = "0" * 32  # a well-formed id no exchange has: only the foreign key can refuse it
    outcomes: dict = {}
    with store._write_lock:
        threads = [_vote_in_thread(store, outcomes, "first", exchange_ids[0], "rag", session_id="s0")]
        _wait_until(lambda: store._votes._leading)
        threads += [_vote_in_thread(store, outcomes, i, exchange_ids[i], "rag", session_id=f"s{i}") for i in (1, 2)]
        threads += [_vote_in_thread(store, outcomes, "bad", unknown, "rag", session_id="s9")]
        threads += [_vote_in_thread(store, outcomes, 3, exchange_ids[3], "rag", session_id="s3")]
        _wait_until(lambda: _queued(store._votes) == 4)
    for thread in threads:
        thread.join(timeout=30)
    assert isinstance(outcomes.pop("bad"), FeedbackError)
    assert all(isinstance(vote_id, int) for vote_id in outcomes.values())
    assert sorted(v["exchange_id"] for v in store.votes()) == sorted(exchange_ids)


def test_the_rate_limit_counts_the_votes_of_the_same_group(store):
    exchange_id = store.record_exchange("s1", "q", _results())
    outcomes: dict = {}
    with store._write_lock:
        threads = [_vote_in_thread(store, outcomes, "other", exchange_id, "tie", session_id="other")]
        _wait_until(lambda: store._votes._leading)
        threads += [_vote_in_thread(store, outcomes, i, exchange_id, "rag", session_id="s1", limit_per_minute=3)
                    for i in range(5)]
        _wait_until(lambda: _queued(store._votes) == 5)
    for thread in threads:
        thread.join(timeout=30)
    refused = [key for key, outcome in outcomes.items() if isinstance(outcome, VoteLimitError)]
    assert len(refused) == 2
    assert len([v for v in store.votes() if v["rater"] == "s1"]) == 3


def test_group_commit_gives_each_caller_its_own_outcome_and_a_failed_commit_to_every_caller_of_its_group():
    release = threading.Event()
    groups: list[list[int]] = []

    def commit(items: list[int]) -> list[int | BaseException]:
        groups.append(items)
        if len(groups) == 1:
            release.wait(10)
        if 99 in items:
            raise OSError("disk full")
        return [ValueError(f"bad {item}") if item < 0 else item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(commit)
    results: dict[int, object] = {}

    def submit(item: int) -> None:
        try:
            results[item] = group.submit(item)
        except Exception as exc:
            results[item] = exc

    first = threading.Thread(target=submit, args=(1,), daemon=True)
    first.start()
    _wait_until(lambda: groups)
    others = [threading.Thread(target=submit, args=(item,), daemon=True) for item in (2, -3, 4)]
    for thread in others:
        thread.start()
    _wait_until(lambda: _queued(group) == 3)
    release.set()
    for thread in (first, *others):
        thread.join(timeout=10)
    assert [sorted(g) for g in groups] == [[1], [-3, 2, 4]]
    assert results[1] == 10 and results[2] == 20 and results[4] == 40
    assert isinstance(results[-3], ValueError) and str(results[-3]) == "bad -3"
    assert group.submit(5) == 50  # a lone caller commits at once, alone
    with pytest.raises(OSError, match="disk full"):
        group.submit(99)
    assert group.submit(6) == 60  # a failed group leaves the next one free to lead
