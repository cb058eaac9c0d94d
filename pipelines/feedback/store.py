"""Append-only store of exchanges, votes, ratings and metric scores, on SQLite or PostgreSQL.

SQLite (WAL, ``synchronous=FULL``) is the default: one file in the data dir. Set
``ARENA_DATABASE_URL=postgresql://user:pass@host/db`` when several app replicas share one
store. The schema is managed by Alembic migrations (``pipelines/feedback/migrations``), applied when
the store opens. A vote is committed (and on disk) before ``add_vote`` returns, so whatever
the UI confirmed survives a crash of the app.

Example::

    store = FeedbackStore.open("sqlite:///data/feedback.sqlite3")
    exchange_id = store.record_exchange("session-1", "Who founded Lumenhollow?", results)
    store.add_vote(exchange_id, "rag", session_id="session-1")
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from pipelines.common.columns import VOTE_CHOICES
from pipelines.common.events import PipelineResult
from pipelines.feedback.group_commit import GroupCommit
from pipelines.feedback.schema import answers, exchange_views, exchanges, ratings, scores, votes

# VOTE_CHOICES (from the column registry): the best answer's pipeline, a tie, or none good ("both_bad" keeps
# its name with three columns: all bad).
RATING_TAGS: tuple[str, ...] = ("correct", "hallucination", "incomplete", "off-topic", "unsafe", "good citation")
MAX_COMMENT_CHARS = 2000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE_REVISION = "0001"  # the schema the first (stdlib sqlite3) store created
UNKNOWN_EXCHANGE = "That exchange is unknown: ask a question before voting."
UNKNOWN_ANSWER = "That answer is unknown: ask a question before rating."


class FeedbackError(ValueError):
    """A vote or exchange was refused; the message is safe to show to the user."""


class VoteLimitError(FeedbackError):
    """The rater already voted the allowed number of times in the last minute."""


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a file path or a URL; ``postgres(ql)://`` gets the psycopg 3 driver."""
    if isinstance(target, Path):
        return f"sqlite:///{target}"
    for prefix in ("postgres://", "postgresql://"):
        if target.startswith(prefix):
            return "postgresql+psycopg://" + target[len(prefix):]
    return target


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; a database made before Alembic is stamped first.

    On PostgreSQL an advisory lock makes replicas that start together migrate one at a time.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('rag-ft-arena-migrations'))"))
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "exchanges" in tables and "alembic_version" not in tables:
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")


def _text(value, column=None):
    """Text as both backends keep it. PostgreSQL refuses NUL in text and a string longer than a ``String(n)``
    column, both of which SQLite stored; neither driver encodes a lone surrogate (what a JSON payload's
    ``"\\ud800"`` becomes). So on both: NUL removed, each lone surrogate replaced by "?", cut to the column."""
    if not isinstance(value, str):
        return value
    return _kept(value, getattr(getattr(column, "type", None), "length", None))


def _kept(value: str, length: int | None) -> str:
    value = value.replace("\x00", "")
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:length] if length else value


def _row(table, values: dict) -> dict:
    """An insert's values with every text as :func:`_text` keeps it."""
    lengths = _lengths(table)
    return {name: _kept(value, lengths[name]) if isinstance(value, str) else value for name, value in values.items()}


@functools.cache
def _lengths(table) -> dict[str, int | None]:
    """Each column's ``String(n)`` length (None: no limit), looked up once per table: a scored exchange stores 16
    rows of 8 values, and looking the lengths up per value cost more than the rows' SQL."""
    return {column.name: getattr(column.type, "length", None) for column in table.columns}


def _json(value) -> str:
    """JSON of a value whose strings are kept as :func:`_text` keeps them (the escapes would bring NUL back)."""
    def clean(item):
        if isinstance(item, str):
            return _text(item)
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return json.dumps(clean(value))


def _possible_id(exchange_id) -> bool:
    """Whether a look-up id could name a stored exchange (the store makes 32-character hex ids); others are unknown
    without asking the database, where PostgreSQL refused NUL and strings longer than the column."""
    return isinstance(exchange_id, str) and 0 < len(exchange_id) <= 32 and _text(exchange_id) == exchange_id


def _now(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(UTC).isoformat(timespec="milliseconds")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FeedbackStore:
    """The feedback database behind one small interface; every write is its own transaction."""

    def __init__(self, target: str | Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.url = database_url(target)
        self.clock = clock
        self.engine = _make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._write_engine = self.engine.execution_options(arena_write=True)  # same pool; BEGIN IMMEDIATE
        # SQLite writers queue on this lock instead of SQLite's busy handler, which polls with sleeps:
        # measured 0.30x of a bare insert loop and a 181 ms p99 with 20 writer threads without it.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        # SQLite votes that arrive while one commits are committed together: one fsync per group, not per vote
        # (20 concurrent raters: 0.4-0.7x of a bare insert loop one at a time). PostgreSQL groups commits itself.
        self._votes: GroupCommit[dict, tuple[int | None, str | None]] | None = (
            GroupCommit(self._commit_votes) if self.dialect == "sqlite" else None)

    @classmethod
    def open(cls, target: str | Path, *, clock: Callable[[], datetime] = _utc_now) -> FeedbackStore:
        """A started store: the usual way to get one (the constructor only describes it)."""
        return cls(target, clock=clock).start()

    def start(self) -> FeedbackStore:
        """Bring the schema up to date (Alembic; a no-op when it is): the one step that touches the database."""
        migrate(self.engine)
        return self

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """Raise if the database cannot answer a query (health check)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # The pool checkout happens before the lock, so other writers' Python work overlaps this one's fsync.
        with self._write_engine.connect() as conn, self._write_lock or nullcontext(), conn.begin():
            yield conn

    def _read(self, statement, parameters: dict | None = None) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(statement, parameters).mappings()]

    def record_exchange(
        self, session_id: str, question: str, results: Iterable[PipelineResult], history: list | None = None,
        *, mode: str = "named", shown_order: list[str] | None = None, user_name: str | None = None,
    ) -> str:
        """Store a question with every column's answer, and the order the columns were shown in."""
        exchange_id = uuid.uuid4().hex
        results = list(results)
        with self._write() as conn:
            conn.execute(insert(exchanges).values(_row(exchanges, {
                "id": exchange_id, "created_at": _now(self.clock), "session_id": session_id, "question": question,
                "history": _json(history or []), "user_name": user_name,
            })))
            conn.execute(insert(exchange_views).values(_row(exchange_views, {
                "exchange_id": exchange_id, "mode": mode,
                "shown_order": _json(shown_order or [r.pipeline for r in results]),
            })))
            if results:
                conn.execute(insert(answers), [_row(answers, _answer_row(exchange_id, i, r))
                                               for i, r in enumerate(results)])
        return exchange_id

    def add_vote(
        self, exchange_id: str, choice: str, *, session_id: str, user_name: str | None = None,
        limit_per_minute: int | None = None,
    ) -> int:
        """Store a vote (append-only: a changed vote is a new row) and return its id once on disk.

        ``limit_per_minute`` counts the rater's votes in the database, so the limit holds across
        app replicas sharing one store. The rater is the signed-in user, else the session.
        """
        if choice not in VOTE_CHOICES:
            raise FeedbackError(f"Unknown vote {choice!r}; expected one of {', '.join(VOTE_CHOICES)}")
        if not _possible_id(exchange_id):
            raise FeedbackError(UNKNOWN_EXCHANGE)
        session_id, user_name = _text(session_id, votes.c.session_id), _text(user_name, votes.c.user_name)
        rater = _text(user_name or session_id, votes.c.rater)
        now = self.clock()
        row = {"exchange_id": exchange_id, "choice": choice, "session_id": session_id, "user_name": user_name,
               "rater": rater, "created_at": _now(lambda: now),
               "since": _now(lambda: now - timedelta(seconds=60)), "limit": limit_per_minute or 2**31 - 1}
        try:
            if self._votes is not None:
                vote_id, oldest = self._votes.submit(row)
            else:
                with self._write() as conn:
                    if self.dialect == "postgresql" and limit_per_minute:  # replicas must not both pass one count
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(rater.encode())})
                    vote_id, oldest = _insert_vote(conn, row)
        except IntegrityError as exc:  # the foreign key: no such exchange
            raise FeedbackError(UNKNOWN_EXCHANGE) from exc
        if vote_id is None:
            wait = 60 - (now - datetime.fromisoformat(oldest)).total_seconds()
            raise VoteLimitError(
                f"Too many votes: at most {limit_per_minute} a minute. Try again in {max(wait, 1):.0f} s."
            )
        return int(vote_id)

    def _commit_votes(self, rows: list[dict]) -> list[tuple[int | None, str | None] | BaseException]:
        """SQLite's group commit: the queued votes in one transaction, in arrival order (each counts the rater's
        votes before it, this group's included). If the group fails (an unknown exchange), each vote is tried
        in its own transaction, so a bad vote refuses only itself."""
        try:
            with self._write() as conn:
                return [_insert_vote(conn, row) for row in rows]
        except Exception:
            if len(rows) == 1:
                raise
        outcomes: list[tuple[int | None, str | None] | BaseException] = []
        for row in rows:
            try:
                with self._write() as conn:
                    outcomes.append(_insert_vote(conn, row))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def add_rating(
        self, exchange_id: str, pipeline: str, *, session_id: str, score: int | None = None,
        tags: list[str] | None = None, comment: str = "", user_name: str | None = None,
    ) -> int:
        """Store one answer's rating (1-5 score, tags, comment; each optional). Append-only like votes."""
        tags = tags or []
        comment = _text(comment, ratings.c.comment)
        if score is not None and not 1 <= score <= 5:
            raise FeedbackError(f"A score is 1 to 5, got {score}")
        if unknown := sorted(set(tags) - set(RATING_TAGS)):
            raise FeedbackError(f"Unknown tags: {', '.join(unknown)}")
        if len(comment) > MAX_COMMENT_CHARS:
            raise FeedbackError(f"The comment is {len(comment):,} characters; the limit is {MAX_COMMENT_CHARS:,}")
        if score is None and not tags and not comment.strip():
            raise FeedbackError("Nothing to save: give a score, a tag or a comment.")
        if not _possible_id(exchange_id) or _text(pipeline, answers.c.pipeline) != pipeline:
            raise FeedbackError(UNKNOWN_ANSWER)
        with self._write() as conn:
            known = conn.execute(
                select(answers.c.pipeline).where(answers.c.exchange_id == exchange_id, answers.c.pipeline == pipeline)
            ).first()
            if known is None:
                raise FeedbackError(UNKNOWN_ANSWER)
            result = conn.execute(insert(ratings).values(_row(ratings, {
                "exchange_id": exchange_id, "pipeline": pipeline, "score": score, "tags": _json(tags),
                "comment": comment, "session_id": session_id, "user_name": user_name, "created_at": _now(self.clock),
            })))
            return int(result.inserted_primary_key[0])

    def ratings(self, exchange_id: str | None = None) -> list[dict]:
        return [{**r, "tags": json.loads(r["tags"])} for r in self._rows(ratings, exchange_id)]

    def comments(self, limit: int = 50) -> list[dict]:
        """The newest rating comments with their question, newest first (shown as plain text)."""
        return self._read(
            select(ratings.c.created_at, ratings.c.pipeline, ratings.c.score, ratings.c.comment,
                   rating_rater.label("rater"), exchanges.c.question)
            .join(exchanges, exchanges.c.id == ratings.c.exchange_id)
            .where(ratings.c.comment != "")
            .order_by(ratings.c.id.desc())
            .limit(limit)
        )

    def view(self, exchange_id: str) -> dict | None:
        """How an exchange was shown: ``mode`` (named or blind) and ``shown_order`` (left to right)."""
        if not _possible_id(exchange_id):
            return None
        rows = self._read(select(exchange_views).where(exchange_views.c.exchange_id == exchange_id))
        return {"mode": rows[0]["mode"], "shown_order": json.loads(rows[0]["shown_order"])} if rows else None

    def exchange(self, exchange_id: str) -> dict | None:
        """The exchange with its answers keyed by pipeline, or None."""
        if not _possible_id(exchange_id):
            return None
        rows = self._read(_EXCHANGE_BY_ID, {"exchange_id": exchange_id})
        if not rows:
            return None
        result = rows[0]
        result["answers"] = {
            a["pipeline"]: {**a, "contexts": json.loads(a["contexts"])}
            for a in _answers_by_exchange(self, [exchange_id]).get(exchange_id, [])
        }
        return result

    def _rows(self, table, exchange_id: str | None) -> list[dict]:
        """All rows of ``votes``, ``scores`` or ``ratings`` in insertion order, optionally for one exchange."""
        statement = select(table).order_by(table.c.id)
        if exchange_id:
            if not _possible_id(exchange_id):
                return []
            statement = statement.where(table.c.exchange_id == exchange_id)
        return self._read(statement)

    def votes(self, exchange_id: str | None = None) -> list[dict]:
        return self._rows(votes, exchange_id)

    def add_scores(self, exchange_id: str, rows: Iterable[dict], scorer: str) -> None:
        """Store metric rows: ``pipeline``, ``metric``, ``value`` (None when not computed), ``status``, ``reason``
        and optionally their own ``scorer`` (default ``scorer``). A new score replaces the exchange's earlier
        score of the same pipeline and metric, whichever scorer (judge) computed that one.
        """
        if not _possible_id(exchange_id):
            raise FeedbackError(UNKNOWN_EXCHANGE)
        now = _now(self.clock)
        values = [_row(scores, {
            "exchange_id": exchange_id, "pipeline": r["pipeline"], "metric": r["metric"], "value": r.get("value"),
            "status": r["status"], "reason": r.get("reason"), "scorer": r.get("scorer", scorer), "created_at": now})
            for r in rows
        ]
        scorer = _text(scorer, scores.c.scorer)
        metrics = {v["metric"] for v in values}
        values = list({(v["pipeline"], v["metric"], v["scorer"]): v for v in values}.values())  # one row a key
        with self._write() as conn:
            conn.execute(_DELETE_REPLACED_SCORES,
                         {"exchange_id": exchange_id, "scorer": scorer, "metrics": sorted(metrics)})
            if values:  # an upsert: a replica that stored the same key meanwhile is updated, never duplicated
                conn.execute(_upsert_scores(self.dialect), values)

    def scores(self, exchange_id: str | None = None) -> list[dict]:
        return self._rows(scores, exchange_id)

    def unscored(self, exchange_ids: Iterable[str]) -> list[str]:
        """Those of the exchanges with an answer that has no score row yet, in the order given."""
        wanted = [exchange_id for exchange_id in dict.fromkeys(exchange_ids) if _possible_id(exchange_id)]
        open_ids: set[str] = set()
        for start in range(0, len(wanted), 500):
            open_ids |= {r["exchange_id"] for r in self._read(_UNSCORED_OF, {"ids": wanted[start:start + 500]})}
        return [exchange_id for exchange_id in wanted if exchange_id in open_ids]

    @contextmanager
    def scoring_claim(self, exchange_ids: Iterable[str]) -> Iterator[list[str]]:
        """Claim exchanges for scoring: yields those this store got, in order; they are released on exit.

        Replicas on one PostgreSQL database each claim with a session advisory lock per exchange, taken without
        waiting: an exchange another replica is scoring is left to it, and a replica that dies mid-scoring
        releases its claims with its connection (its exchanges are then still unscored, for the next start).
        SQLite serves one app process, so its claims are kept in this process."""
        ids = list(dict.fromkeys(exchange_ids))
        if self.dialect != "postgresql":
            with _LOCAL_CLAIMS_LOCK:
                taken = _LOCAL_CLAIMS.setdefault(self.url, set())
                claimed = [exchange_id for exchange_id in ids if exchange_id not in taken]
                taken.update(claimed)
            try:
                yield claimed
            finally:
                with _LOCAL_CLAIMS_LOCK:
                    taken.difference_update(claimed)
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            claimed = [exchange_id for exchange_id in ids
                       if conn.execute(_TRY_CLAIM, {"key": _claim_key(exchange_id)}).scalar()]
            try:
                yield claimed
            finally:
                for exchange_id in claimed:
                    conn.execute(_RELEASE_CLAIM, {"key": _claim_key(exchange_id)})

    def rated_exchanges(self, per_rater: bool = False) -> list[dict]:
        """Every voted exchange with its latest vote and its answers in column order (export, DPO); with
        ``per_rater``, one row for each rater's latest vote on it (the leaderboard: an item of a rating queue
        counts every rater who judged it, a rater who changed a vote counts once)."""
        latest = _latest_votes(per_rater)
        rows = self._read(
            select(exchanges.c.id.label("exchange_id"), exchanges.c.question, exchanges.c.session_id,
                   exchanges.c.created_at, latest.c.choice, latest.c.created_at.label("voted_at"),
                   latest.c.rater)
            .join(latest, latest.c.exchange_id == exchanges.c.id)
            .order_by(exchanges.c.created_at, latest.c.id)
        )
        grouped = _answers_by_exchange(self, list(dict.fromkeys(r["exchange_id"] for r in rows)))
        for row in rows:
            row["answers"] = grouped.get(row["exchange_id"], [])
        return rows

    def voted_exchange_ids(self) -> list[str]:
        """Every exchange with at least one vote, oldest first (to score them all again)."""
        rows = self._read(select(votes.c.exchange_id, func.min(votes.c.id).label("first"))
                          .group_by(votes.c.exchange_id).order_by("first"))
        return [r["exchange_id"] for r in rows]

    def unscored_voted_exchange_ids(self) -> list[str]:
        """Voted exchanges with an answer that has no score row yet, oldest vote first: what the scoring queue
        held when the app stopped (it lives in memory). An exchange's rows are stored in one transaction, so an
        exchange is scored in full or not at all; every answer gets rows, ``n/a`` ones included."""
        unscored = select(answers.c.exchange_id).where(~_answer_scored())
        rows = self._read(select(votes.c.exchange_id, func.min(votes.c.id).label("first"))
                          .where(votes.c.exchange_id.in_(unscored))
                          .group_by(votes.c.exchange_id).order_by("first"))
        return [r["exchange_id"] for r in rows]

    def scores_with_votes(self) -> list[dict]:
        """Every computed metric value beside the latest vote of its exchange (agreement statistics)."""
        latest = _latest_votes()
        return self._read(
            select(scores.c.exchange_id, latest.c.choice, scores.c.pipeline, scores.c.metric, scores.c.value)
            .join(latest, latest.c.exchange_id == scores.c.exchange_id)
            .where(scores.c.status == "ok")
        )

    def latest_rating_scores(self) -> dict[tuple[str, str], int]:
        """(exchange_id, pipeline) -> the latest 1-5 score a rater gave that answer."""
        rows = self._read(
            select(ratings.c.exchange_id, ratings.c.pipeline, ratings.c.score)
            .where(ratings.c.score.is_not(None)).order_by(ratings.c.id)
        )
        return {(r["exchange_id"], r["pipeline"]): r["score"] for r in rows}

    def scored_votes(self, limit: int = 200) -> list[dict]:
        """Latest vote per exchange beside that exchange's metric scores, newest first (Evaluation tab)."""
        latest = _latest_votes()
        return self._read(
            select(exchanges.c.id.label("exchange_id"), exchanges.c.created_at, exchanges.c.question,
                   latest.c.choice.label("vote"), scores.c.pipeline, scores.c.metric, scores.c.value,
                   scores.c.status, scores.c.reason, scores.c.scorer)
            .join(latest, latest.c.exchange_id == exchanges.c.id)
            .outerjoin(scores, scores.c.exchange_id == exchanges.c.id)
            .order_by(exchanges.c.created_at.desc(), scores.c.pipeline, scores.c.metric)
            .limit(limit * 16)
        )


rating_rater = func.coalesce(ratings.c.user_name, ratings.c.session_id)
# The vote path is one statement, built once: the insert happens only while the rater's votes in the
# last minute are under the limit (building statements per call cost more than SQLite's commit).
_recent_votes = (votes.c.rater == bindparam("rater")) & (votes.c.created_at > bindparam("since"))
_INSERT_VOTE_WITHIN_LIMIT = insert(votes).from_select(
    ["exchange_id", "choice", "session_id", "user_name", "rater", "created_at"],
    select(*(bindparam(name, type_=String) for name in
             ("exchange_id", "choice", "session_id", "user_name", "rater", "created_at")))
    .where(select(func.count()).where(_recent_votes).scalar_subquery() < bindparam("limit", type_=Integer)),
).returning(votes.c.id)
_OLDEST_RECENT_VOTE = select(func.min(votes.c.created_at)).where(_recent_votes)


def _insert_vote(conn: Connection, row: dict) -> tuple[int | None, str | None]:
    """(the new vote's id, None), or (None, the rater's oldest vote of the last minute) when over the limit."""
    vote_id = conn.execute(_INSERT_VOTE_WITHIN_LIMIT, row).scalar()
    return (vote_id, None) if vote_id is not None else (None, conn.execute(_OLDEST_RECENT_VOTE, row).scalar())


def _answer_scored():
    """Whether the answer row in the enclosing query has at least one score row."""
    return (select(scores.c.id)
            .where(scores.c.exchange_id == answers.c.exchange_id, scores.c.pipeline == answers.c.pipeline)
            .exists())


# The scoring worker's statements, built once (building them per exchange cost about as much as running them).
_EXCHANGE_BY_ID = select(exchanges).where(exchanges.c.id == bindparam("exchange_id"))
_ANSWERS_OF = (select(answers).where(answers.c.exchange_id.in_(bindparam("ids", expanding=True)))
               .order_by(answers.c.exchange_id, answers.c.position))
_UNSCORED_OF = (select(answers.c.exchange_id).distinct()
                .where(answers.c.exchange_id.in_(bindparam("ids", expanding=True)), ~_answer_scored()))
_DELETE_REPLACED_SCORES = delete(scores).where(
    scores.c.exchange_id == bindparam("exchange_id"),
    or_(scores.c.scorer == bindparam("scorer"), scores.c.metric.in_(bindparam("metrics", expanding=True))))


@functools.cache
def _upsert_scores(dialect: str):
    """Insert score rows; a row whose (exchange, pipeline, metric, scorer) is stored already is updated instead."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(scores)
    return statement.on_conflict_do_update(
        index_elements=[scores.c.exchange_id, scores.c.pipeline, scores.c.metric, scores.c.scorer],
        set_={name: statement.excluded[name] for name in ("value", "status", "reason", "created_at")},
    )


# Scoring claims (FeedbackStore.scoring_claim): PostgreSQL advisory locks in their own key space, one per exchange;
# SQLite's in this process, per database URL.
_CLAIM_SPACE = zlib.crc32(b"rag-ft-arena-scoring") & 0x7FFFFFFF
_TRY_CLAIM = text(f"SELECT pg_try_advisory_lock({_CLAIM_SPACE}, :key)")
_RELEASE_CLAIM = text(f"SELECT pg_advisory_unlock({_CLAIM_SPACE}, :key)")
_LOCAL_CLAIMS: dict[str, set[str]] = {}
_LOCAL_CLAIMS_LOCK = threading.Lock()


def _claim_key(exchange_id: str) -> int:
    """A 32-bit key for one exchange: its id's CRC. Two exchanges in flight at once share a key about once in 10^6
    batches of 64; the one left out then waits, unscored, for the next vote on it or the next start."""
    return zlib.crc32(exchange_id.encode()) - 2**31


def _latest_votes(per_rater: bool = False):
    """Each exchange's newest vote, or each rater's newest on it (a changed vote is a new row; the newest counts)."""
    newest = select(func.max(votes.c.id)).group_by(votes.c.exchange_id, *([votes.c.rater] if per_rater else []))
    return select(votes).where(votes.c.id.in_(newest)).subquery("latest_votes")


def _answer_row(exchange_id: str, position: int, result: PipelineResult) -> dict:
    timings = result.timings
    return {
        "exchange_id": exchange_id, "pipeline": result.pipeline, "answer": result.answer,
        "contexts": _json([asdict(c) for c in result.chunks]), "error": result.error,
        "model_id": result.model_id, "adapter_id": result.adapter_id, "position": position,
        "first_token_s": timings.first_token_s if timings else None,
        "total_s": timings.total_s if timings else None,
        "retrieval_s": timings.retrieval_s if timings else None,
    }


def _answers_by_exchange(store: FeedbackStore, exchange_ids: list[str]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for start in range(0, len(exchange_ids), 500):
        ids = exchange_ids[start : start + 500]
        for row in store._read(_ANSWERS_OF, {"ids": ids}):
            grouped.setdefault(row["exchange_id"], []).append(row)
    return grouped


def _make_engine(url: str) -> Engine:
    """An engine; for SQLite: WAL, fully synced commits, foreign keys, and BEGIN IMMEDIATE for writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=24, max_overflow=8, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a confirmed vote must survive a crash
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write takes the lock up front, so it never fails half way on SQLITE_BUSY. Straight to the driver:
        # this runs once per vote, and SQLAlchemy's statement path costs more than the BEGIN itself.
        immediate = conn.get_execution_options().get("arena_write")
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
