"""Rating queues on a real PostgreSQL server: two app replicas (two stores) racing for seats never hand out more
than N votes per item, also when they race to take over expired holds; and the SQLite file's flow tests, run
again here on PostgreSQL (its ON CONFLICT, row locks and READ COMMITTED re-checks are what the claims rely on)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.feedback.queues import QueueError, RatingQueues
from pipelines.feedback.schema import votes
from pipelines.feedback.store import FeedbackStore
from tests.test_rating_queues import (  # noqa: F401  (collected again, on the PostgreSQL ``store`` below)
    count,
    exchange,
    rate_all,
    test_a_queue_vote_is_an_ordinary_vote_row,
    test_a_rater_who_leaves_loses_nothing_and_the_item_goes_to_someone_else,
    test_a_voted_seat_is_never_taken_over_however_old,
    test_an_expired_claim_goes_to_the_next_rater_and_its_late_vote_is_refused,
    test_bad_queues_are_refused_and_store_nothing,
    test_bad_votes_are_refused_and_nothing_is_stored_twice,
    test_blind_order_is_per_rater_and_stable_and_named_order_is_the_column_order,
    test_each_item_gets_n_raters_and_never_one_rater_twice,
    test_each_vote_records_the_guidelines_version_its_rater_had,
    test_gold_is_set_changed_and_unset,
    test_progress_counts_the_rater_and_the_queue,
)


@pytest.fixture
def clock():
    from tests.test_rating_queues import Clock

    return Clock()


@pytest.fixture
def store(postgres_database):
    store = FeedbackStore.open(postgres_database)
    yield store
    store.close()


def race(stores: list[FeedbackStore], queue_id: str, threads_per_store: int, *, clock=None) -> list[BaseException]:
    """Every thread is one rater (its own name) rating through one of the stores until nothing is left for it;
    all start together. Returns what the threads raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores) * threads_per_store)

    def rater(backing: FeedbackStore, name: str) -> None:
        try:
            queues = RatingQueues(backing, **({"clock": clock} if clock else {}))
            start.wait()
            rate_all(queues, queue_id, name)
        except BaseException as exc:  # a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(backing, f"replica{r}-rater{i}"))
               for i in range(threads_per_store) for r, backing in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_replicas_never_hand_out_more_than_n_votes_per_item(store, postgres_database):
    replica = FeedbackStore.open(postgres_database)
    try:
        for round_ in range(5):  # several rounds: each is a fresh race for the same seats
            ids = [exchange(store, f"round {round_} q{i}") for i in range(3)]
            queue = RatingQueues(store).create(f"race {round_}", ids, raters_per_item=2)
            assert race([store, replica], queue.id, 8) == []
            rows = RatingQueues(replica).queue_votes(queue.id)
            assert Counter(v["exchange_id"] for v in rows) == dict.fromkeys(ids, 2)
            assert len({(v["exchange_id"], v["rater"]) for v in rows}) == 6
            assert RatingQueues(store).progress(queue.id).items_complete == 3
        assert count(store, votes) == 5 * 6
    finally:
        replica.close()


def test_replicas_racing_to_take_over_expired_holds_seat_one_rater_each(store, postgres_database):
    ids = [exchange(store, f"q{i}") for i in range(3)]
    queue = RatingQueues(store).create("takeover", ids, raters_per_item=1)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    gone = RatingQueues(store, clock=lambda: an_hour_ago, claim_seconds=60)
    held = [gone.next_item(queue.id, f"gone{i}").exchange_id for i in range(3)]  # every seat, long expired
    assert sorted(held) == sorted(ids)
    replica = FeedbackStore.open(postgres_database)
    try:
        assert race([store, replica], queue.id, 8) == []
    finally:
        replica.close()
    rows = RatingQueues(store).queue_votes(queue.id)
    assert Counter(v["exchange_id"] for v in rows) == dict.fromkeys(ids, 1)
    assert not any(v["rater"].startswith("gone") for v in rows)
    for i, exchange_id in enumerate(held):
        with pytest.raises(QueueError, match="another rater"):
            gone.vote(queue.id, exchange_id, f"gone{i}", "rag", session_id="s")
    assert count(store, votes) == 3
