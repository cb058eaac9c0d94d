"""Rating queues: stored exchanges (answers generated once) handed to N raters each, for labeling sessions.

An admin builds a queue from stored exchanges (a batch run's, or picked arena ones); each rater asks for the next
item that needs them and votes on it. Nothing is generated on this path. Each item gets at most ``raters_per_item``
votes, never two from one rater, also with several app replicas on one PostgreSQL: a claim takes one of the item's
N seats (``queue_claims.slot``, unique per item), so a second claim of a seat fails on the key instead of racing a
count. A rater who leaves (``release``) or goes quiet past ``claim_seconds`` gives the seat back to the pool; that
rater is not handed the item again (a skip stays a skip). A queue vote is an ordinary row of ``votes`` (so the
leaderboard counts it), stored in the same transaction that marks the claim voted.

Example::

    queues = RatingQueues(FeedbackStore.open("sqlite:///data/feedback.sqlite3"))
    run = queues.batch_runs()[0]
    queue = queues.create("November set", queues.batch_exchange_ids(run["session_id"]), raters_per_item=3)
    item = queues.next_item(queue.id, rater="alice")          # None: nothing left for alice
    queues.vote(queue.id, item.exchange_id, "alice", item.answers[0].pipeline, session_id="browser-1")
    queues.progress(queue.id, "alice")                         # QueueProgress(rater_done=1, ...)
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from pipelines.common.columns import BOTH_BAD, FINETUNED, RAG, TIE, VOTE_CHOICES
from pipelines.feedback.schema import answers, exchanges, queue_claims, queue_items, rating_queues, votes
from pipelines.feedback.store import FeedbackError, FeedbackStore, _now, _possible_id, _row, _text, _utc_now

DEFAULT_PAIR: tuple[str, str] = (RAG.name, FINETUNED.name)
MAX_RATERS_PER_ITEM = 100
MAX_GUIDELINES_CHARS = 20_000
BATCH_SESSION_PREFIX = "batch-"  # pipelines/evaluation/batch.py names a run's session so
UNKNOWN_QUEUE = "That queue is unknown: pick one from the list."
_CANDIDATES_PER_ROUND = 16
_MAX_ROUNDS = 200  # claim rounds lost to other raters before giving up (each lost round means another rater won)


class QueueError(FeedbackError):
    """A queue request was refused and nothing was stored; the message is safe to show to the user."""


@dataclass(frozen=True)
class QueueInfo:
    id: str
    name: str
    raters_per_item: int
    blind: bool
    guidelines: str
    guidelines_version: int
    created_at: str
    items: int


@dataclass(frozen=True)
class QueueAnswer:
    pipeline: str
    answer: str
    contexts: list[dict]  # as the answers table stores them (json-decoded)
    error: str | None


@dataclass(frozen=True)
class QueueItem:
    queue_id: str
    exchange_id: str
    question: str
    answers: list[QueueAnswer]  # the order this rater sees them (shuffled per rater when the queue is blind)
    position: int  # 1-based index of the item in the queue


@dataclass(frozen=True)
class QueueProgress:
    rater_done: int  # items this rater voted on
    rater_left: int  # items this rater could still get (an open claim included)
    items_total: int
    items_complete: int  # items with raters_per_item votes
    votes: int
    votes_needed: int  # items_total * raters_per_item


class RatingQueues:
    """Queues over one feedback store; cheap to build (no database access until a call)."""

    def __init__(self, store: FeedbackStore, *, clock: Callable[[], datetime] = _utc_now,
                 claim_seconds: float = 900) -> None:
        self.store = store
        self.clock = clock
        self.claim_seconds = claim_seconds

    # -- building queues ---------------------------------------------------------------------------------------

    def batch_runs(self) -> list[dict]:
        """Batch runs in the store (``batch-...`` sessions), newest first: what a queue is usually built from."""
        started = func.min(exchanges.c.created_at)
        return self.store._read(
            select(exchanges.c.session_id, func.count().label("exchanges"), started.label("created_at"))
            .where(exchanges.c.session_id.like(BATCH_SESSION_PREFIX + "%"))
            .group_by(exchanges.c.session_id).order_by(started.desc())
        )

    def batch_exchange_ids(self, session_id: str) -> list[str]:
        """The exchanges of one session (a batch run), oldest first."""
        rows = self.store._read(select(exchanges.c.id).where(exchanges.c.session_id == _text(session_id))
                                .order_by(exchanges.c.created_at, exchanges.c.id))
        return [r["id"] for r in rows]

    def create(self, name: str, exchange_ids: Sequence[str], *, raters_per_item: int = 3, blind: bool = True,
               guidelines: str = "", pipelines: tuple[str, str] | None = None,
               gold: Mapping[str, str] | None = None) -> QueueInfo:
        """A new queue over stored exchanges, each comparing two of its answers (``pipelines``; default: RAG and
        fine-tuned where both answered, else the first two answers in column order). Checked in full first:
        a refused queue stores nothing."""
        name = _text(name if isinstance(name, str) else "", rating_queues.c.name).strip()
        if not name:
            raise QueueError("Give the queue a name.")
        if isinstance(raters_per_item, bool) or not isinstance(raters_per_item, int) \
                or not 1 <= raters_per_item <= MAX_RATERS_PER_ITEM:
            raise QueueError(f"Raters per item is a whole number from 1 to {MAX_RATERS_PER_ITEM}, "
                             f"got {raters_per_item!r}.")
        guidelines = _checked_guidelines(guidelines)
        if isinstance(exchange_ids, str):
            raise QueueError("Give a list of exchange ids, not one string.")
        ids = list(dict.fromkeys(exchange_ids or []))
        if not ids:
            raise QueueError("A queue needs at least one stored exchange; none was given.")
        if pipelines is not None and (len(pipelines) != 2 or len(set(pipelines)) != 2
                                      or not all(isinstance(p, str) and p for p in pipelines)):
            raise QueueError(f"Compare two different pipelines, got {pipelines!r}.")
        answering = self._answering(ids)
        if unknown := [i for i in ids if i not in answering]:
            raise QueueError(f"{len(unknown)} exchange(s) are not in the store: {_some(unknown)}.")
        pairs = {i: _pair(answering[i], pipelines) for i in ids}
        if lacking := [i for i, pair in pairs.items() if pair is None]:
            wanted = f"answers from {pipelines[0]} and {pipelines[1]}" if pipelines else "two answers"
            raise QueueError(f"{len(lacking)} exchange(s) lack {wanted} to compare: {_some(lacking)}.")
        gold = dict(gold or {})
        for exchange_id, choice in gold.items():
            if exchange_id not in pairs:
                raise QueueError(f"A gold choice names an exchange outside the queue: {_some([exchange_id])}.")
            _check_choice(choice, pairs[exchange_id])
        queue_id = uuid.uuid4().hex
        created_at = _now(self.clock)
        with self.store._write() as conn:
            conn.execute(insert(rating_queues).values(
                id=queue_id, name=name, raters_per_item=raters_per_item, blind=bool(blind), guidelines=guidelines,
                guidelines_version=1, created_at=created_at))
            conn.execute(insert(queue_items), [
                {"queue_id": queue_id, "exchange_id": i, "position": position, "pipeline_a": pairs[i][0],
                 "pipeline_b": pairs[i][1], "gold": gold.get(i)} for position, i in enumerate(ids)])
        return QueueInfo(queue_id, name, raters_per_item, bool(blind), guidelines, 1, created_at, len(ids))

    def queues(self) -> list[QueueInfo]:
        """Every queue, newest first."""
        return [_info(r) for r in self.store._read(_QUEUES.order_by(rating_queues.c.created_at.desc()))]

    def queue(self, queue_id: str) -> QueueInfo:
        if not _possible_id(queue_id) or not (rows := self.store._read(_QUEUES.where(rating_queues.c.id == queue_id))):
            raise QueueError(UNKNOWN_QUEUE)
        return _info(rows[0])

    def set_guidelines(self, queue_id: str, markdown: str) -> QueueInfo:
        """New guidelines; the version goes up by one, so each later vote records which ones its rater had."""
        markdown = _checked_guidelines(markdown)
        if not _possible_id(queue_id):
            raise QueueError(UNKNOWN_QUEUE)
        with self.store._write() as conn:
            changed = conn.execute(update(rating_queues).where(rating_queues.c.id == queue_id).values(
                guidelines=markdown, guidelines_version=rating_queues.c.guidelines_version + 1)).rowcount
        if changed != 1:
            raise QueueError(UNKNOWN_QUEUE)
        return self.queue(queue_id)

    def set_gold(self, queue_id: str, exchange_id: str, choice: str | None) -> None:
        """Mark an item's right choice (one of its two pipelines, a tie or both bad), or unmark it (None)."""
        with self.store._write() as conn:
            pair = _item_pair(conn, queue_id, exchange_id)
            if choice is not None:
                _check_choice(choice, pair)
            conn.execute(update(queue_items).where(queue_items.c.queue_id == queue_id,
                                                   queue_items.c.exchange_id == exchange_id).values(gold=choice))

    # -- rating ------------------------------------------------------------------------------------------------

    def next_item(self, queue_id: str, rater: str) -> QueueItem | None:
        """The rater's open item if they hold one, else a newly claimed item that still needs a rater and that
        this rater never held; None when nothing is left for them. Never generates anything."""
        rater = _checked_rater(rater)
        now = self.clock()
        times = {"now": _now(lambda: now), "expires": _now(lambda: now + timedelta(seconds=self.claim_seconds))}
        with self.store._write() as conn:
            queue = _queue_row(conn, queue_id)
            exchange_id = (_renew_open_claim(conn, queue_id, rater, times)
                           or _claim(conn, queue_id, rater, queue["raters_per_item"], times))
        return None if exchange_id is None else self._item(queue_id, exchange_id, rater, queue["blind"])

    def held_item(self, queue_id: str, exchange_id: str, rater: str) -> QueueItem | None:
        """The item, in the order this rater sees it, if they hold it and have not voted; else None. Reads only:
        no claim is taken and no hold renewed (what an API vote needs to map "A"/"B" to pipelines)."""
        rater = _checked_rater(rater)
        info = self.queue(queue_id)  # QueueError when unknown
        if not _possible_id(exchange_id) or not self.store._read(
                select(queue_claims.c.exchange_id).where(_held_by(queue_id, exchange_id, rater), _open_seat())):
            return None
        return self._item(queue_id, exchange_id, rater, info.blind)

    def vote(self, queue_id: str, exchange_id: str, rater: str, choice: str, *, session_id: str,
             user_name: str | None = None) -> int:
        """Store the rater's vote on an item they hold, as a ``votes`` row, and mark the claim voted: one
        transaction, so either both are stored or neither. Returns the vote's id."""
        rater = _checked_rater(rater)
        if choice not in VOTE_CHOICES:
            raise QueueError(f"Unknown vote {choice!r}; expected one of {', '.join(VOTE_CHOICES)}.")
        now = _now(self.clock)
        with self.store._write() as conn:
            version = _queue_row(conn, queue_id)["guidelines_version"]
            _check_choice(choice, _item_pair(conn, queue_id, exchange_id))
            held = _held_by(queue_id, exchange_id, rater)
            claim = conn.execute(select(queue_claims.c.slot, queue_claims.c.vote_id).where(held)).first()
            if claim is None:
                raise QueueError("That item is not assigned to you: open the queue's next item to rate it.")
            if claim.vote_id is not None:
                raise QueueError("You already voted on this item; a queue takes one vote per rater and item.")
            if claim.slot is None:
                raise QueueError("Your hold on this item ended (you left it, or it timed out and went to another "
                                 "rater): open the next item.")
            vote_id = conn.execute(insert(votes).values(_row(votes, {
                "exchange_id": exchange_id, "choice": choice, "session_id": session_id, "user_name": user_name,
                "rater": rater, "created_at": now})).returning(votes.c.id)).scalar_one()
            marked = conn.execute(update(queue_claims).where(held, _open_seat()).values(
                vote_id=vote_id, voted_at=now, guidelines_version=version)).rowcount
            if marked != 1:  # taken by another replica between the read and here: the vote above rolls back
                raise QueueError("This item timed out and went to another rater: open the next item.")
        return int(vote_id)

    def release(self, queue_id: str, rater: str) -> None:
        """The rater leaves: their open item goes back to the pool (for other raters)."""
        rater = _checked_rater(rater)
        now = _now(self.clock)
        with self.store._write() as conn:
            _queue_row(conn, queue_id)
            conn.execute(update(queue_claims).where(queue_claims.c.queue_id == queue_id,
                                                    queue_claims.c.rater == rater, _open_seat())
                         .values(slot=None, released_at=now))

    # -- reading -----------------------------------------------------------------------------------------------

    def progress(self, queue_id: str, rater: str | None = None) -> QueueProgress:
        """The queue's progress, and the rater's when one is given (else their figures are 0)."""
        queue = self.queue(queue_id)
        per_item = self.store._read(
            select(queue_claims.c.exchange_id, func.count(queue_claims.c.vote_id).label("votes"))
            .where(queue_claims.c.queue_id == queue_id).group_by(queue_claims.c.exchange_id))
        complete = {r["exchange_id"] for r in per_item if r["votes"] >= queue.raters_per_item}
        done = left = 0
        if rater is not None:
            held = self.store._read(
                select(queue_claims.c.exchange_id, queue_claims.c.slot, queue_claims.c.vote_id)
                .where(queue_claims.c.queue_id == queue_id, queue_claims.c.rater == _checked_rater(rater)))
            done = sum(r["vote_id"] is not None for r in held)
            open_claims = sum(r["vote_id"] is None and r["slot"] is not None for r in held)
            left = queue.items - len(complete | {r["exchange_id"] for r in held}) + open_claims
        return QueueProgress(done, left, queue.items, len(complete), sum(r["votes"] for r in per_item),
                             queue.items * queue.raters_per_item)

    def queue_votes(self, queue_id: str | None = None) -> list[dict]:
        """One row per vote given through a queue (all queues, or one), oldest first: for agreement and export."""
        statement = (
            select(queue_claims.c.queue_id, queue_claims.c.exchange_id, queue_claims.c.rater, votes.c.choice,
                   queue_items.c.gold, queue_claims.c.guidelines_version, votes.c.created_at,
                   queue_items.c.pipeline_a, queue_items.c.pipeline_b)
            .join(votes, votes.c.id == queue_claims.c.vote_id)
            .join(queue_items, and_(queue_items.c.queue_id == queue_claims.c.queue_id,
                                    queue_items.c.exchange_id == queue_claims.c.exchange_id))
            .order_by(votes.c.id))
        if queue_id is not None:
            if not _possible_id(queue_id):
                return []
            statement = statement.where(queue_claims.c.queue_id == queue_id)
        rows = self.store._read(statement)
        return [{**{k: v for k, v in r.items() if k not in ("pipeline_a", "pipeline_b")},
                 "pipelines": [r["pipeline_a"], r["pipeline_b"]]} for r in rows]

    def _answering(self, ids: list[str]) -> dict[str, list[str]]:
        """For each stored exchange among ``ids``: its pipelines that answered without an error, in column order."""
        found: dict[str, list[str]] = {}
        possible = [i for i in ids if _possible_id(i)]
        for start in range(0, len(possible), 500):
            chunk = possible[start:start + 500]
            found.update({r["id"]: [] for r in self.store._read(_EXCHANGES_IN, {"ids": chunk})})
            for r in self.store._read(_ANSWERING_IN, {"ids": chunk}):
                found[r["exchange_id"]].append(r["pipeline"])
        return found

    def _item(self, queue_id: str, exchange_id: str, rater: str, blind: bool) -> QueueItem:
        (item,) = self.store._read(select(queue_items).where(queue_items.c.queue_id == queue_id,
                                                             queue_items.c.exchange_id == exchange_id))
        question = self.store._read(select(exchanges.c.question).where(exchanges.c.id == exchange_id))[0]["question"]
        shown = [item["pipeline_a"], item["pipeline_b"]]
        if blind and _swapped(queue_id, exchange_id, rater):
            shown.reverse()
        stored = {r["pipeline"]: r for r in self.store._read(
            select(answers).where(answers.c.exchange_id == exchange_id, answers.c.pipeline.in_(shown)))}
        return QueueItem(queue_id, exchange_id, question,
                         [QueueAnswer(p, stored[p]["answer"], json.loads(stored[p]["contexts"]), stored[p]["error"])
                          for p in shown], item["position"] + 1)


_QUEUES = select(rating_queues, select(func.count()).where(queue_items.c.queue_id == rating_queues.c.id)
                 .scalar_subquery().label("items"))
_EXCHANGES_IN = select(exchanges.c.id).where(exchanges.c.id.in_(bindparam("ids", expanding=True)))
_ANSWERING_IN = (select(answers.c.exchange_id, answers.c.pipeline)
                 .where(answers.c.exchange_id.in_(bindparam("ids", expanding=True)), answers.c.error.is_(None))
                 .order_by(answers.c.exchange_id, answers.c.position))


def _info(row: dict) -> QueueInfo:
    return QueueInfo(row["id"], row["name"], row["raters_per_item"], bool(row["blind"]), row["guidelines"],
                     row["guidelines_version"], row["created_at"], row["items"])


def _pair(answering: list[str], wanted: tuple[str, str] | None) -> tuple[str, str] | None:
    """The two pipelines an item compares, in the exchange's column order; None when it lacks them."""
    wanted = wanted or (DEFAULT_PAIR if set(DEFAULT_PAIR) <= set(answering) else tuple(answering[:2]))
    if len(wanted) != 2 or not set(wanted) <= set(answering):
        return None
    first, second = sorted(wanted, key=answering.index)
    return first, second


def _check_choice(choice, pair: tuple[str, str]) -> None:
    allowed = (*pair, TIE, BOTH_BAD)
    if choice not in allowed:
        raise QueueError(f"Unknown choice {choice!r} for this item; expected one of {', '.join(allowed)}.")


def _checked_guidelines(markdown) -> str:
    if not isinstance(markdown, str):
        raise QueueError("Guidelines are Markdown text.")
    markdown = _text(markdown)
    if len(markdown) > MAX_GUIDELINES_CHARS:
        raise QueueError(f"The guidelines are {len(markdown):,} characters; the limit is {MAX_GUIDELINES_CHARS:,}.")
    return markdown


def _checked_rater(rater) -> str:
    """The rater as stored (the signed-in user name, else the session id: the caller picks, as add_vote does)."""
    if not isinstance(rater, str) or not rater.strip():
        raise QueueError("Rating needs a rater: sign in, or open the app in a browser session.")
    return _text(rater, queue_claims.c.rater)


def _some(ids: list[str]) -> str:
    shown = ", ".join(repr(str(i)[:40]) for i in ids[:3])
    return shown + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def _swapped(queue_id: str, exchange_id: str, rater: str) -> bool:
    """Whether this rater sees the item's answers swapped: fixed per (queue, item, rater), so a reload agrees."""
    return hashlib.sha256(f"{queue_id}\0{exchange_id}\0{rater}".encode()).digest()[0] & 1 == 1


def _queue_row(conn: Connection, queue_id: str):
    row = conn.execute(select(rating_queues.c.raters_per_item, rating_queues.c.blind,
                              rating_queues.c.guidelines_version)
                       .where(rating_queues.c.id == queue_id)).first() if _possible_id(queue_id) else None
    if row is None:
        raise QueueError(UNKNOWN_QUEUE)
    return row._mapping


def _item_pair(conn: Connection, queue_id: str, exchange_id: str) -> tuple[str, str]:
    row = conn.execute(select(queue_items.c.pipeline_a, queue_items.c.pipeline_b).where(
        queue_items.c.queue_id == queue_id, queue_items.c.exchange_id == exchange_id)).first() \
        if _possible_id(queue_id) and _possible_id(exchange_id) else None
    if row is None:
        raise QueueError("That item is not in this queue.")
    return row.pipeline_a, row.pipeline_b


def _held_by(queue_id: str, exchange_id: str, rater: str):
    return and_(queue_claims.c.queue_id == queue_id, queue_claims.c.exchange_id == exchange_id,
                queue_claims.c.rater == rater)


def _open_seat():
    """A claim that holds a seat and has no vote yet."""
    return and_(queue_claims.c.slot.is_not(None), queue_claims.c.vote_id.is_(None))


def _renew_open_claim(conn: Connection, queue_id: str, rater: str, times: dict) -> str | None:
    """The item this rater holds (its hold renewed), or None. An expired hold nobody took over still counts."""
    mine = and_(queue_claims.c.queue_id == queue_id, queue_claims.c.rater == rater, _open_seat())
    for (exchange_id,) in conn.execute(select(queue_claims.c.exchange_id).where(mine)
                                       .order_by(queue_claims.c.claimed_at)).all():
        renewed = conn.execute(update(queue_claims).where(mine, queue_claims.c.exchange_id == exchange_id)
                               .values(expires_at=times["expires"])).rowcount
        if renewed:  # 0: another replica took it over between the two statements
            return exchange_id
    return None


def _claim(conn: Connection, queue_id: str, rater: str, seats: int, times: dict) -> str | None:
    """Claim the first item (in queue order) with a free or expired seat that this rater never held."""
    for _ in range(_MAX_ROUNDS):
        candidates = conn.execute(_CANDIDATES, {"queue_id": queue_id, "rater": rater, "now": times["now"],
                                                "seats": seats}).scalars().all()
        if not candidates:
            return None
        for exchange_id in candidates:
            if _take_seat(conn, queue_id, exchange_id, rater, seats, times):
                return exchange_id
    raise QueueError("Too many raters are claiming items at once: try again.")


def _take_seat(conn: Connection, queue_id: str, exchange_id: str, rater: str, seats: int, times: dict) -> bool:
    """Take a free seat of the item, else take over an expired unvoted one; False when another rater won each."""
    held = conn.execute(select(queue_claims.c.slot, queue_claims.c.vote_id, queue_claims.c.expires_at).where(
        queue_claims.c.queue_id == queue_id, queue_claims.c.exchange_id == exchange_id,
        queue_claims.c.slot.is_not(None))).all()
    taken = {r.slot for r in held}
    row = {"queue_id": queue_id, "exchange_id": exchange_id, "rater": rater, "claimed_at": times["now"],
           "expires_at": times["expires"]}
    for slot in range(seats):
        if slot not in taken and _inserted(conn, {**row, "slot": slot}):
            return True
    for seat in held:
        if seat.vote_id is None and seat.expires_at < times["now"]:
            freed = conn.execute(update(queue_claims).where(
                queue_claims.c.queue_id == queue_id, queue_claims.c.exchange_id == exchange_id,
                queue_claims.c.slot == seat.slot, queue_claims.c.vote_id.is_(None),
                queue_claims.c.expires_at < times["now"]).values(slot=None, released_at=times["now"])).rowcount
            if freed and _inserted(conn, {**row, "slot": seat.slot}):
                return True
    return False


def _live_seats():
    """Seats of the item in the enclosing query that count: voted, or held and not expired."""
    return (select(func.count()).where(
        queue_claims.c.queue_id == queue_items.c.queue_id, queue_claims.c.exchange_id == queue_items.c.exchange_id,
        queue_claims.c.slot.is_not(None),
        (queue_claims.c.vote_id.is_not(None)) | (queue_claims.c.expires_at >= bindparam("now")))
        .scalar_subquery())


_CANDIDATES = (
    select(queue_items.c.exchange_id)
    .where(queue_items.c.queue_id == bindparam("queue_id"),
           ~select(queue_claims.c.rater).where(
               queue_claims.c.queue_id == queue_items.c.queue_id,
               queue_claims.c.exchange_id == queue_items.c.exchange_id,
               queue_claims.c.rater == bindparam("rater")).exists(),
           _live_seats() < bindparam("seats"))
    .order_by(queue_items.c.position).limit(_CANDIDATES_PER_ROUND)
)


def _inserted(conn: Connection, row: dict) -> bool:
    """Insert a claim; False when its seat (or this rater's row) is taken, also by a transaction not yet committed
    (PostgreSQL waits for that one). RETURNING tells: psycopg reports no rowcount for this insert (-1)."""
    return conn.execute(_insert_claim(conn.dialect.name), row).first() is not None


@functools.cache
def _insert_claim(dialect: str):
    """An insert of a claim that does nothing when the seat, or this rater's row, is taken."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(queue_claims)
    return statement.on_conflict_do_nothing().returning(queue_claims.c.slot)
