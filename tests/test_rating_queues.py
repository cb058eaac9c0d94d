"""Rating queues on a real SQLite file: assignment (N raters per item, never one rater twice, nothing lost when a
rater leaves), votes stored once, progress, gold items, guidelines versions, answer order. The same tests run on
PostgreSQL from tests/test_rating_queues_postgres.py (the ``store`` fixture there), with the replica races."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from pipelines.common.events import PipelineResult
from pipelines.feedback.queues import QueueError, RatingQueues
from pipelines.feedback.schema import queue_claims, queue_items, rating_queues, votes
from pipelines.feedback.store import FeedbackStore


class Clock:
    """A clock the test moves by hand (claim expiry)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def answer(pipeline: str, text: str | None = None, error: str | None = None) -> PipelineResult:
    return PipelineResult(pipeline, text if text is not None else f"{pipeline} says so", [], error, None, "m", None)


def exchange(store: FeedbackStore, question: str = "q", pipelines=("rag", "finetuned"), session: str = "batch-1",
             **errors: str) -> str:
    return store.record_exchange(session, question, [answer(p, error=errors.get(p)) for p in pipelines])


def count(store: FeedbackStore, table) -> int:
    return store._read(select(func.count().label("n")).select_from(table))[0]["n"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def rate_all(queues: RatingQueues, queue_id: str, rater: str, choice_of=lambda item: item.answers[0].pipeline):
    """The rater takes items and votes until the queue has nothing left for them; the items they rated."""
    rated = []
    while (item := queues.next_item(queue_id, rater)) is not None:
        queues.vote(queue_id, item.exchange_id, rater, choice_of(item), session_id=f"session-{rater}")
        rated.append(item.exchange_id)
    return rated


def test_each_item_gets_n_raters_and_never_one_rater_twice(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(4)]
    queue = queues.create("four items", ids, raters_per_item=2)
    rated = {rater: rate_all(queues, queue.id, rater) for rater in ("ann", "bob", "cy")}
    assert all(len(set(items)) == len(items) for items in rated.values())  # no rater got an item twice
    votes_per_item = Counter(v["exchange_id"] for v in queues.queue_votes(queue.id))
    assert votes_per_item == dict.fromkeys(ids, 2)
    # Queue order: the first raters fill the first items; the third rater gets only what is left.
    assert rated["ann"] == ids and rated["bob"] == ids and rated["cy"] == []
    assert count(store, votes) == 8
    assert {(v["exchange_id"], v["rater"]) for v in store.votes()} == {(i, r) for i in ids for r in ("ann", "bob")}


def test_a_queue_vote_is_an_ordinary_vote_row(store, clock):
    queues = RatingQueues(store, clock=clock)
    queue = queues.create("one", [exchange(store)], raters_per_item=1)
    item = queues.next_item(queue.id, "alice")
    vote_id = queues.vote(queue.id, item.exchange_id, "alice", "finetuned", session_id="s1", user_name="alice")
    (row,) = store.votes(item.exchange_id)
    assert row["id"] == vote_id and row["choice"] == "finetuned" and row["rater"] == "alice"
    assert row["session_id"] == "s1" and row["user_name"] == "alice" and row["created_at"].startswith("2026-12-01")


def test_next_item_gives_the_open_item_again_until_it_is_voted(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(3)]
    queue = queues.create("q", ids, raters_per_item=1)
    first = queues.next_item(queue.id, "ann")
    assert queues.next_item(queue.id, "ann") == first  # a reload: same item, same answer order
    assert first.position == 1 and first.question == "q0"
    assert count(store, queue_claims) == 1
    queues.vote(queue.id, first.exchange_id, "ann", "tie", session_id="s")
    assert queues.next_item(queue.id, "ann").exchange_id == ids[1]


def test_a_rater_who_leaves_loses_nothing_and_the_item_goes_to_someone_else(store, clock):
    queues = RatingQueues(store, clock=clock)
    (only,) = ids = [exchange(store)]
    queue = queues.create("one item", ids, raters_per_item=1)
    assert queues.next_item(queue.id, "ann").exchange_id == only
    assert queues.next_item(queue.id, "bob") is None  # its one seat is held
    queues.release(queue.id, "ann")
    assert queues.next_item(queue.id, "bob").exchange_id == only
    with pytest.raises(QueueError, match="ended"):
        queues.vote(queue.id, only, "ann", "rag", session_id="s")
    assert queues.next_item(queue.id, "ann") is None  # a skip stays a skip
    queues.vote(queue.id, only, "bob", "rag", session_id="s")
    assert [(v["rater"], v["choice"]) for v in queues.queue_votes(queue.id)] == [("bob", "rag")]
    assert count(store, votes) == 1


def test_an_expired_claim_goes_to_the_next_rater_and_its_late_vote_is_refused(store, clock):
    queues = RatingQueues(store, clock=clock, claim_seconds=60)
    (only,) = ids = [exchange(store)]
    queue = queues.create("one item", ids, raters_per_item=1)
    queues.next_item(queue.id, "ann")
    clock.advance(59)
    assert queues.next_item(queue.id, "bob") is None  # not expired yet
    assert queues.next_item(queue.id, "ann").exchange_id == only  # ann is back: her hold is renewed
    clock.advance(59)
    assert queues.next_item(queue.id, "bob") is None  # renewed: still hers
    clock.advance(2)
    assert queues.next_item(queue.id, "bob").exchange_id == only  # expired: taken over
    with pytest.raises(QueueError, match="another rater"):
        queues.vote(queue.id, only, "ann", "rag", session_id="s")
    assert count(store, votes) == 0
    queues.vote(queue.id, only, "bob", "finetuned", session_id="s")
    assert count(store, votes) == 1 and queues.progress(queue.id).items_complete == 1


def test_a_voted_seat_is_never_taken_over_however_old(store, clock):
    queues = RatingQueues(store, clock=clock, claim_seconds=60)
    (only,) = ids = [exchange(store)]
    queue = queues.create("one item", ids, raters_per_item=2)
    queues.next_item(queue.id, "ann")
    queues.vote(queue.id, only, "ann", "rag", session_id="s")
    queues.next_item(queue.id, "bob")
    clock.advance(3600)  # both holds are old; only bob's has no vote
    assert queues.next_item(queue.id, "cy").exchange_id == only
    assert queues.next_item(queue.id, "dee") is None
    with pytest.raises(QueueError, match="another rater"):
        queues.vote(queue.id, only, "bob", "rag", session_id="s")
    queues.vote(queue.id, only, "cy", "tie", session_id="s")
    assert sorted((v["rater"], v["choice"]) for v in queues.queue_votes(queue.id)) == [("ann", "rag"), ("cy", "tie")]


def test_an_expired_claim_nobody_took_can_still_be_voted(store, clock):
    queues = RatingQueues(store, clock=clock, claim_seconds=60)
    queue = queues.create("one item", [exchange(store)], raters_per_item=1)
    item = queues.next_item(queue.id, "ann")
    clock.advance(3600)
    queues.vote(queue.id, item.exchange_id, "ann", "rag", session_id="s")
    assert queues.next_item(queue.id, "bob") is None and count(store, votes) == 1


def test_bad_queues_are_refused_and_store_nothing(store):
    queues = RatingQueues(store)
    good = exchange(store)
    one_answer = exchange(store, pipelines=("rag",))
    failed = exchange(store, pipelines=("rag", "finetuned"), finetuned="adapter missing")
    cases = [
        (dict(exchange_ids=[]), "at least one"),
        (dict(exchange_ids=[good, "0" * 32]), "not in the store"),
        (dict(exchange_ids=[good, "not an id\x00"]), "not in the store"),
        (dict(exchange_ids=[good, one_answer]), "lack two answers"),
        (dict(exchange_ids=[good, failed]), "lack two answers"),
        (dict(exchange_ids=[good], pipelines=("rag", "rag_finetuned")), "lack answers from rag and rag_finetuned"),
        (dict(exchange_ids=[good], pipelines=("rag", "rag")), "two different"),
        (dict(exchange_ids=[good], raters_per_item=0), "1 to"),
        (dict(exchange_ids=[good], raters_per_item=True), "1 to"),
        (dict(exchange_ids=[good], gold={good: "rag_finetuned"}), "Unknown choice"),
        (dict(exchange_ids=[good], gold={one_answer: "rag"}), "outside the queue"),
        (dict(exchange_ids=[good], guidelines="x" * 20_001), "limit"),
        (dict(exchange_ids=good), "not one string"),
    ]
    for kwargs, message in cases:
        with pytest.raises(QueueError, match=message):
            queues.create("bad", **kwargs)
    with pytest.raises(QueueError, match="name"):
        queues.create("  ", [good])
    assert count(store, rating_queues) == 0 and count(store, queue_items) == 0
    assert queues.queues() == []


def test_bad_votes_are_refused_and_nothing_is_stored_twice(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(2)]
    outside = exchange(store, "not queued")
    queue = queues.create("q", ids, raters_per_item=2)
    with pytest.raises(QueueError, match="not assigned to you"):
        queues.vote(queue.id, ids[0], "ann", "rag", session_id="s")  # never claimed
    item = queues.next_item(queue.id, "ann")
    with pytest.raises(QueueError, match="not assigned to you"):
        queues.vote(queue.id, item.exchange_id, "bob", "rag", session_id="s")  # ann's item, not bob's
    with pytest.raises(QueueError, match="not assigned to you"):
        queues.vote(queue.id, ids[1], "ann", "rag", session_id="s")  # an item ann does not hold
    with pytest.raises(QueueError, match="not in this queue"):
        queues.vote(queue.id, outside, "ann", "rag", session_id="s")
    with pytest.raises(QueueError, match="unknown"):
        queues.vote("f" * 32, item.exchange_id, "ann", "rag", session_id="s")
    with pytest.raises(QueueError, match="Unknown vote"):
        queues.vote(queue.id, item.exchange_id, "ann", "best", session_id="s")
    with pytest.raises(QueueError, match="Unknown choice"):
        queues.vote(queue.id, item.exchange_id, "ann", "rag_finetuned", session_id="s")  # not one of this pair
    with pytest.raises(QueueError, match="rater"):
        queues.next_item(queue.id, "")
    assert count(store, votes) == 0
    queues.vote(queue.id, item.exchange_id, "ann", "rag", session_id="s")
    with pytest.raises(QueueError, match="already voted"):
        queues.vote(queue.id, item.exchange_id, "ann", "finetuned", session_id="s")
    assert count(store, votes) == 1 and len(queues.queue_votes()) == 1
    with pytest.raises(QueueError, match="unknown"):
        queues.next_item("nope", "ann")
    with pytest.raises(QueueError, match="unknown"):
        queues.progress("0" * 32)


def test_progress_counts_the_rater_and_the_queue(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(3)]
    queue = queues.create("q", ids, raters_per_item=2)
    progress = queues.progress(queue.id, "ann")
    assert (progress.rater_done, progress.rater_left, progress.items_total, progress.items_complete,
            progress.votes, progress.votes_needed) == (0, 3, 3, 0, 0, 6)
    item = queues.next_item(queue.id, "ann")
    assert queues.progress(queue.id, "ann").rater_left == 3  # the open item still counts as left
    queues.vote(queue.id, item.exchange_id, "ann", "rag", session_id="s")
    item = queues.next_item(queue.id, "bob")
    queues.vote(queue.id, item.exchange_id, "bob", "rag", session_id="s")
    assert item.exchange_id == ids[0]
    ann, bob, cy = (queues.progress(queue.id, rater) for rater in ("ann", "bob", "cy"))
    assert (ann.rater_done, ann.rater_left, ann.items_complete, ann.votes) == (1, 2, 1, 2)
    assert (bob.rater_done, bob.rater_left) == (1, 2)
    assert (cy.rater_done, cy.rater_left) == (0, 2)  # the complete item is not left for cy
    queues.next_item(queue.id, "cy")
    queues.release(queue.id, "cy")
    assert queues.progress(queue.id, "cy").rater_left == 1  # the skipped item is not coming back
    assert queues.progress(queue.id).rater_done == 0 and queues.progress(queue.id).votes == 2


def test_gold_is_set_changed_and_unset(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(2)]
    queue = queues.create("q", ids, raters_per_item=1, gold={ids[0]: "rag"})
    for _ in ids:
        item = queues.next_item(queue.id, "ann")
        queues.vote(queue.id, item.exchange_id, "ann", "tie", session_id="s")
    assert {v["exchange_id"]: v["gold"] for v in queues.queue_votes(queue.id)} == {ids[0]: "rag", ids[1]: None}
    queues.set_gold(queue.id, ids[1], "both_bad")
    queues.set_gold(queue.id, ids[0], None)
    assert {v["exchange_id"]: v["gold"] for v in queues.queue_votes(queue.id)} == {ids[0]: None, ids[1]: "both_bad"}
    with pytest.raises(QueueError, match="Unknown choice"):
        queues.set_gold(queue.id, ids[0], "rag_finetuned")
    with pytest.raises(QueueError, match="not in this queue"):
        queues.set_gold(queue.id, exchange(store), "rag")
    assert {v["exchange_id"]: v["gold"] for v in queues.queue_votes(queue.id)} == {ids[0]: None, ids[1]: "both_bad"}


def test_each_vote_records_the_guidelines_version_its_rater_had(store, clock):
    queues = RatingQueues(store, clock=clock)
    ids = [exchange(store, f"q{i}") for i in range(2)]
    queue = queues.create("q", ids, raters_per_item=1, guidelines="Prefer **cited** answers.")
    assert (queue.guidelines, queue.guidelines_version) == ("Prefer **cited** answers.", 1)
    item = queues.next_item(queue.id, "ann")
    queues.vote(queue.id, item.exchange_id, "ann", "rag", session_id="s")
    updated = queues.set_guidelines(queue.id, "Prefer *correct* answers.")
    assert (updated.guidelines, updated.guidelines_version) == ("Prefer *correct* answers.", 2)
    assert queues.queue(queue.id) == updated and queues.queues() == [updated]
    item = queues.next_item(queue.id, "ann")
    queues.vote(queue.id, item.exchange_id, "ann", "rag", session_id="s")
    assert [v["guidelines_version"] for v in queues.queue_votes(queue.id)] == [1, 2]
    with pytest.raises(QueueError, match="unknown"):
        queues.set_guidelines("a" * 32, "x")


def test_blind_order_is_per_rater_and_stable_and_named_order_is_the_column_order(store, clock):
    queues = RatingQueues(store, clock=clock)
    # Stored with the fine-tuned answer on the left: that is the column order a named queue keeps.
    ids = [exchange(store, "q", pipelines=("finetuned", "rag"))]
    blind = queues.create("blind", ids, raters_per_item=20)
    named = queues.create("named", ids, raters_per_item=20, blind=False)
    raters = [f"r{i}" for i in range(20)]
    blind_orders = {}
    for rater in raters:
        item = queues.next_item(blind.id, rater)
        blind_orders[rater] = [a.pipeline for a in item.answers]
        assert [a.pipeline for a in queues.next_item(blind.id, rater).answers] == blind_orders[rater]  # reload
        assert [a.pipeline for a in queues.next_item(named.id, rater).answers] == ["finetuned", "rag"]
    assert {tuple(order) for order in blind_orders.values()} == {("finetuned", "rag"), ("rag", "finetuned")}
    item = queues.next_item(blind.id, "r0")
    assert {a.pipeline: a.answer for a in item.answers} == {"rag": "rag says so", "finetuned": "finetuned says so"}


def test_the_compared_pair_defaults_to_rag_and_fine_tuned_else_the_first_two(store, clock):
    queues = RatingQueues(store, clock=clock)
    three = exchange(store, "three", pipelines=("rag_finetuned", "finetuned", "rag"))
    others = exchange(store, "others", pipelines=("rag_finetuned", "base", "rag"))
    queue = queues.create("q", [three, others], raters_per_item=1, blind=False)
    picked = queues.create("picked", [three, others], raters_per_item=1, blind=False,
                           pipelines=("rag", "rag_finetuned"))
    rate_all(queues, queue.id, "ann")
    rate_all(queues, picked.id, "ann")
    # Each pair in the exchange's column order.
    assert [v["pipelines"] for v in queues.queue_votes(queue.id)] == [["finetuned", "rag"], ["rag_finetuned", "base"]]
    assert [v["pipelines"] for v in queues.queue_votes(picked.id)] == [["rag_finetuned", "rag"],
                                                                        ["rag_finetuned", "rag"]]


def test_answers_come_with_their_contexts(store, clock):
    from pipelines.common.events import RetrievedChunk

    chunk = RetrievedChunk("Lumenhollow was founded in 1802.", "a.md", 0, 0.9, 1)
    exchange_id = store.record_exchange("s", "Who?", [PipelineResult("rag", "1802 [1]", [chunk], None, None, "m", None),
                                                      answer("finetuned")])
    queues = RatingQueues(store, clock=clock)
    queue = queues.create("q", [exchange_id], raters_per_item=1, blind=False)
    rag, finetuned = queues.next_item(queue.id, "ann").answers
    assert rag.contexts == store.exchange(exchange_id)["answers"]["rag"]["contexts"]
    assert rag.contexts[0]["text"] == "Lumenhollow was founded in 1802." and finetuned.contexts == []
    assert rag.error is None


def test_batch_runs_are_listed_newest_first_with_their_exchanges(store, clock):
    clock_store = FeedbackStore.open(store.url, clock=clock)
    old = []
    for i in range(2):
        old.append(exchange(clock_store, f"q{i}", session="batch-20261101T000000"))
        clock.advance(1)
    new = [exchange(clock_store, "q", session="batch-20261201T000000")]
    exchange(clock_store, "arena question", session="browser-session")
    queues = RatingQueues(store)
    assert [(r["session_id"], r["exchanges"]) for r in queues.batch_runs()] == [
        ("batch-20261201T000000", 1), ("batch-20261101T000000", 2)]
    assert queues.batch_exchange_ids("batch-20261101T000000") == old
    assert queues.batch_exchange_ids("batch-20261201T000000") == new
    clock_store.close()


def test_two_stores_on_one_sqlite_file_never_seat_more_than_n(store):
    """Two stores (as two processes would open the file) with 8 rater threads each; N=2 over 3 items."""
    ids = [exchange(store, f"q{i}") for i in range(3)]
    queue = RatingQueues(store).create("race", ids, raters_per_item=2)
    other = FeedbackStore.open(store.url)
    errors: list[BaseException] = []

    def rater(backing: FeedbackStore, name: str) -> None:
        try:
            rate_all(RatingQueues(backing), queue.id, name)
        except BaseException as exc:  # a failure in a thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=rater, args=(backing, f"{label}{i}"))
               for i in range(8) for label, backing in (("a", store), ("b", other))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    assert not errors
    rows = RatingQueues(store).queue_votes(queue.id)
    assert Counter(v["exchange_id"] for v in rows) == dict.fromkeys(ids, 2)
    assert len({(v["exchange_id"], v["rater"]) for v in rows}) == 6 and count(store, votes) == 6


def test_a_database_at_the_previous_revision_upgrades_and_keeps_its_rows(tmp_path):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from pipelines.feedback.store import MIGRATIONS_DIR, database_url

    path = tmp_path / "old.sqlite3"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = create_engine(database_url(path))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    engine.dispose()
    old = FeedbackStore(path)  # not started: writes through the 0003 schema
    exchange_id = exchange(old, "asked before queues")
    old.add_vote(exchange_id, "rag", session_id="s")
    old.close()
    store = FeedbackStore.open(path)
    assert store.votes(exchange_id)[0]["choice"] == "rag"
    queues = RatingQueues(store)
    queue = queues.create("old answers", [exchange_id], raters_per_item=1)
    assert queues.next_item(queue.id, "ann").question == "asked before queues"
    store.close()


class QueueMachine(RuleBasedStateMachine):
    """Random interleavings of next / vote / release / time passing for four raters on three items, N=2."""

    RATERS = ("ann", "bob", "cy", "dee")

    def __init__(self) -> None:
        super().__init__()
        import tempfile
        from pathlib import Path

        self.folder = tempfile.TemporaryDirectory()
        self.store = FeedbackStore.open(Path(self.folder.name) / "f.sqlite3")
        self.clock = Clock()
        self.queues = RatingQueues(self.store, clock=self.clock, claim_seconds=60)
        self.ids = [exchange(self.store, f"q{i}") for i in range(3)]
        self.queue = self.queues.create("fuzz", self.ids, raters_per_item=2)
        self.held: dict[str, str] = {}  # rater -> the item next_item gave them
        self.ended = False

    @rule(rater=st.sampled_from(RATERS))
    def next_item(self, rater: str) -> None:
        item = self.queues.next_item(self.queue.id, rater)  # a hold that expired and was taken: another item
        if item is None:
            self.held.pop(rater, None)
        else:
            self.held[rater] = item.exchange_id

    @rule(rater=st.sampled_from(RATERS), choice=st.sampled_from(("rag", "finetuned", "tie")),
          pick=st.integers(0, 2))
    def vote(self, rater: str, choice: str, pick: int) -> None:
        exchange_id = self.held.get(rater, self.ids[pick])
        before = count(self.store, votes)
        try:
            self.queues.vote(self.queue.id, exchange_id, rater, choice, session_id=rater)
        except QueueError:
            assert count(self.store, votes) == before
        else:
            assert count(self.store, votes) == before + 1
            assert self.held.get(rater) == exchange_id  # only a held item can be voted
            self.held.pop(rater)

    @rule(rater=st.sampled_from(RATERS))
    def release(self, rater: str) -> None:
        self.queues.release(self.queue.id, rater)
        self.held.pop(rater, None)

    @rule(seconds=st.sampled_from((1, 30, 61)))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def at_most_n_votes_per_item_and_one_per_rater(self) -> None:
        rows = self.queues.queue_votes(self.queue.id)
        assert max(Counter(v["exchange_id"] for v in rows).values(), default=0) <= 2
        assert len({(v["exchange_id"], v["rater"]) for v in rows}) == len(rows) == count(self.store, votes)
        seats = self.store._read(select(queue_claims.c.exchange_id, queue_claims.c.slot)
                                 .where(queue_claims.c.slot.is_not(None)))
        assert all(0 <= s["slot"] < 2 for s in seats)
        progress = self.queues.progress(self.queue.id)
        assert progress.votes == len(rows) and progress.votes_needed == 6

    @precondition(lambda self: not self.ended)
    @rule()
    def everyone_finishes(self) -> None:
        """No item is lost: once time passes and everyone rates what is left, each item has N votes unless every
        rater either rated it or gave it up."""
        self.clock.advance(3600)
        for rater in self.RATERS:
            rate_all(self.queues, self.queue.id, rater)
        rows = self.queues.queue_votes(self.queue.id)
        claims = self.store._read(select(queue_claims))
        for exchange_id in self.ids:
            voted = {v["rater"] for v in rows if v["exchange_id"] == exchange_id}
            touched = {c["rater"] for c in claims if c["exchange_id"] == exchange_id}
            assert len(voted) == 2 or touched == set(self.RATERS), (exchange_id, voted, touched)
        for rater in self.RATERS:
            assert self.queues.progress(self.queue.id, rater).rater_left == 0
        self.held.clear()
        self.ended = True

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()


TestQueueInterleavings = QueueMachine.TestCase
TestQueueInterleavings.settings = settings(max_examples=40, stateful_step_count=25)
