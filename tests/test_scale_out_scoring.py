"""Replicas sharing one feedback database score each exchange once (#30): an atomic claim per exchange, and a
unique key on ``scores`` (exchange, pipeline, metric, scorer) that migration 0003 adds after removing the rows
stored twice before it. Two replicas are two stores and two scoring workers on one real PostgreSQL (or one SQLite
file), started together as replicas start: each re-queues every unscored vote."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from pipelines.common.events import PipelineResult, RetrievedChunk
from pipelines.common.questions import load_questions
from pipelines.common.settings import Settings
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
from pipelines.feedback.schema import scores
from pipelines.feedback.store import MIGRATIONS_DIR, FeedbackStore, database_url


class HashingEmbedder:
    """Deterministic bag-of-words vectors: ragas' semantic similarity runs, no model to load."""

    name = "hashing"
    dimensions = 64

    def embed(self, texts: list[str], on_progress=None) -> list[list[float]]:
        vectors = []
        for passage in texts:
            vector = [0.0] * self.dimensions
            for word in passage.lower().split():
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
            vectors.append(vector if any(vector) else [1.0] + [0.0] * (self.dimensions - 1))
        return vectors


class CountingScorer:
    """The real offline ragas scorer, counting which exchanges each call scores (the judge calls it would make)."""

    def __init__(self, scored: Counter, lock: threading.Lock) -> None:
        settings = Settings()
        self.inner = RagasScorer(HashingEmbedder(), ReferenceSet.load(settings.questions_file, settings.corpus_dir))
        self.name, self.scored, self.lock = self.inner.name, scored, lock

    def score_exchanges(self, exchanges: list[dict]) -> dict[str, list[dict]]:
        with self.lock:
            self.scored.update(exchange["id"] for exchange in exchanges)
        return self.inner.score_exchanges(exchanges)


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path) -> str | Path:
    """One database for both replicas: a SQLite file, or a new database on the tests' PostgreSQL server."""
    return tmp_path / "f.sqlite3" if request.param == "sqlite" else request.getfixturevalue("postgres_database")


def _voted_exchanges(store: FeedbackStore, count: int) -> list[str]:
    ids = []
    for item in load_questions(Settings().questions_file, require_reference=True)[:count]:
        passage = RetrievedChunk(item.reference, item.source or "", 0, 1.0, 1)
        exchange_id = store.record_exchange("replicas", item.question, [
            PipelineResult("rag", item.reference, [passage], None, None, "m"),
            PipelineResult("finetuned", "The documents do not say.", [], None, None, "m"),
        ])
        store.add_vote(exchange_id, "rag", session_id="replicas")
        ids.append(exchange_id)
    return ids


def test_two_replicas_starting_together_score_each_unscored_vote_once(target):
    ids = _voted_exchanges(FeedbackStore.open(target), 6)
    scored, lock = Counter(), threading.Lock()
    replicas = [FeedbackStore.open(target) for _ in range(2)]
    workers = [ScoringWorker(store, lambda: CountingScorer(scored, lock)) for store in replicas]
    for worker in workers:  # both list the same six unscored votes before either has stored a score
        worker.start()
    try:
        assert all(worker.wait_idle(timeout=300) for worker in workers)
    finally:
        for worker in workers:
            worker.stop(wait_s=10)
    assert scored == Counter(ids), scored  # each exchange went to the scorer once, across both replicas
    rows = replicas[0].scores()
    keys = Counter((r["exchange_id"], r["pipeline"], r["metric"], r["scorer"]) for r in rows)
    assert keys and max(keys.values()) == 1
    assert {r["exchange_id"] for r in rows} == set(ids) and replicas[0].unscored(ids) == []

    # The "score again" button still scores a scored exchange; a plain re-vote does not.
    worker = ScoringWorker(replicas[1], lambda: CountingScorer(scored, lock)).start()
    worker.submit(ids[0])
    worker.submit(ids[1], again=True)
    assert worker.wait_idle(timeout=300)
    worker.stop()
    assert scored[ids[0]] == 1 and scored[ids[1]] == 2


def test_a_claimed_exchange_is_left_to_the_replica_that_holds_it(target):
    (exchange_id,) = _voted_exchanges(FeedbackStore.open(target), 1)
    first, second = FeedbackStore.open(target), FeedbackStore.open(target)
    with first.scoring_claim([exchange_id]) as mine, second.scoring_claim([exchange_id]) as theirs:
        assert mine == [exchange_id] and theirs == []
    with second.scoring_claim([exchange_id]) as theirs:  # released: free again
        assert theirs == [exchange_id]


def test_the_scores_table_holds_one_row_per_answer_metric_and_scorer(target):
    store = FeedbackStore.open(target)
    (exchange_id,) = _voted_exchanges(store, 1)
    row = {"exchange_id": exchange_id, "pipeline": "rag", "metric": "rouge_score", "value": 0.5, "status": "ok",
           "scorer": "x", "created_at": "2026-12-06T00:00:00"}
    with store.engine.begin() as conn:
        conn.execute(insert(scores).values(row))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(scores).values({**row, "value": 0.6}))
    store.add_scores(exchange_id, [{"pipeline": "rag", "metric": "rouge_score", "value": 0.7, "status": "ok"}],
                     scorer="x")
    assert [(s["metric"], s["value"]) for s in store.scores(exchange_id)] == [("rouge_score", 0.7)]


def test_migration_0003_keeps_the_newest_of_rows_stored_twice(target):
    url = database_url(target)
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(text("INSERT INTO exchanges (id, created_at, session_id, question) "
                          "VALUES ('e1', '2026-12-01', 's', 'q')"))
        conn.execute(text("INSERT INTO answers (exchange_id, pipeline, answer) VALUES ('e1', 'rag', 'a')"))
        for value in (0.1, 0.2, 0.3):  # what two replicas scoring at once stored before: the same key thrice
            conn.execute(text("INSERT INTO scores (exchange_id, pipeline, metric, value, status, scorer, created_at)"
                              " VALUES ('e1', 'rag', 'rouge_score', :v, 'ok', 'x', '2026-12-01')"), {"v": value})
        conn.execute(text("INSERT INTO scores (exchange_id, pipeline, metric, value, status, scorer, created_at)"
                          " VALUES ('e1', 'rag', 'rouge_score', 0.9, 'ok', 'judge', '2026-12-01')"))
    engine.dispose()
    store = FeedbackStore.open(target)
    with store.engine.connect() as conn:
        head = ScriptDirectory.from_config(config).get_current_head()   # 0003 ran, and every later one
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        kept = sorted(conn.execute(select(scores.c.scorer, scores.c.value)).all())
    assert kept == [("judge", 0.9), ("x", 0.3)]
