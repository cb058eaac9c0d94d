import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.feedback.store import FeedbackError, FeedbackStore, VoteLimitError, database_url

# The schema the first (stdlib sqlite3) store wrote, before Alembic: databases like this exist on users' disks.
LEGACY_SCHEMA = """
CREATE TABLE exchanges (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, session_id TEXT NOT NULL,
    question TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]');
CREATE TABLE answers (exchange_id TEXT NOT NULL REFERENCES exchanges(id), pipeline TEXT NOT NULL,
    answer TEXT NOT NULL, contexts TEXT NOT NULL DEFAULT '[]', error TEXT, model_id TEXT NOT NULL DEFAULT '',
    adapter_id TEXT, first_token_s REAL, total_s REAL, retrieval_s REAL, PRIMARY KEY (exchange_id, pipeline));
CREATE TABLE votes (id INTEGER PRIMARY KEY AUTOINCREMENT, exchange_id TEXT NOT NULL REFERENCES exchanges(id),
    choice TEXT NOT NULL, session_id TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, exchange_id TEXT NOT NULL REFERENCES exchanges(id),
    pipeline TEXT NOT NULL, metric TEXT NOT NULL, value REAL, status TEXT NOT NULL, reason TEXT,
    scorer TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE exchange_views (exchange_id TEXT PRIMARY KEY REFERENCES exchanges(id), mode TEXT NOT NULL,
    shown_order TEXT NOT NULL);
CREATE TABLE ratings (id INTEGER PRIMARY KEY AUTOINCREMENT, exchange_id TEXT NOT NULL REFERENCES exchanges(id),
    pipeline TEXT NOT NULL, score INTEGER, tags TEXT NOT NULL DEFAULT '[]', comment TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX votes_by_exchange ON votes(exchange_id);
CREATE VIEW latest_votes AS SELECT * FROM votes WHERE id IN (SELECT MAX(id) FROM votes GROUP BY exchange_id);
CREATE INDEX scores_by_exchange ON scores(exchange_id);
"""


def _results():
    chunk = RetrievedChunk("<script>alert(1)</script> text", "a.md", 0, 0.9, 1)
    return [
        PipelineResult("rag", "answer [1]", [chunk], None, Timings(0.1, 1.0, 0.01, 5), "m", None),
        PipelineResult("finetuned", "", [], "adapter missing", None, "m", "ad@1"),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """A fresh database of each kind: a SQLite file, or a new database on the real PostgreSQL server."""
    return tmp_path / "f.sqlite3" if request.param == "sqlite" else request.getfixturevalue("postgres_database")


def test_exchange_round_trip_and_votes_are_append_only(target):
    store = FeedbackStore.open(target)
    exchange_id = store.record_exchange("s1", "question?", _results())
    exchange = store.exchange(exchange_id)
    assert exchange["question"] == "question?"
    assert exchange["answers"]["rag"]["contexts"][0]["text"].startswith("<script>")
    assert exchange["answers"]["finetuned"]["error"] == "adapter missing"
    first = store.add_vote(exchange_id, "rag", session_id="s1")
    second = store.add_vote(exchange_id, "tie", session_id="s1")
    assert second > first
    assert [v["choice"] for v in store.votes(exchange_id)] == ["rag", "tie"]
    (rated,) = store.rated_exchanges()
    assert rated["choice"] == "tie" and [a["pipeline"] for a in rated["answers"]] == ["rag", "finetuned"]


def test_vote_is_on_disk_for_another_connection(tmp_path):
    path = tmp_path / "f.sqlite3"
    store = FeedbackStore.open(path)
    exchange_id = store.record_exchange("s1", "q", _results())
    store.add_vote(exchange_id, "both_bad", session_id="s1")
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT choice FROM votes").fetchall() == [("both_bad",)]
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_every_sqlite_connection_of_the_store_syncs_commits_fully(tmp_path):
    """``synchronous`` is per connection: each pooled one, readers' and writers' alike, must fsync a commit
    (FULL = 2), so an acknowledged vote survives a power cut, not just a crash of the app."""
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    exchange_id = store.record_exchange("s1", "q", _results())
    store.add_vote(exchange_id, "rag", session_id="s1")
    with store.engine.connect() as reader, store._write_engine.connect() as writer, \
            store.engine.connect() as another:  # three at once: three distinct pooled connections
        for conn in (reader, writer, another):
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2
    store.close()


def test_bad_votes_are_refused(target):
    store = FeedbackStore.open(target)
    with pytest.raises(FeedbackError, match="unknown"):
        store.add_vote("no-such-exchange", "rag", session_id="s1")
    exchange_id = store.record_exchange("s1", "q", _results())
    with pytest.raises(FeedbackError, match="Unknown vote"):
        store.add_vote(exchange_id, "rag-ish", session_id="s1")
    assert store.votes() == []


def test_scores_replace_previous_run_of_same_scorer(target):
    store = FeedbackStore.open(target)
    exchange_id = store.record_exchange("s1", "q", _results())
    store.add_vote(exchange_id, "rag", session_id="s1")
    row = {"pipeline": "rag", "metric": "rouge_score", "value": 0.5, "status": "ok"}
    store.add_scores(exchange_id, [row], scorer="x")
    store.add_scores(exchange_id, [{**row, "value": 0.7}], scorer="x")
    assert [s["value"] for s in store.scores(exchange_id)] == [0.7]
    rows = store.scored_votes()
    assert rows[0]["vote"] == "rag" and rows[0]["metric"] == "rouge_score" and rows[0]["scorer"] == "x"
    store.record_exchange("s1", "never voted", _results())
    assert store.voted_exchange_ids() == [exchange_id]


def test_vote_limit_is_per_rater_slides_with_time_and_holds_across_replicas(target):
    now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    replica_a = FeedbackStore.open(target, clock=lambda: now[0])
    replica_b = FeedbackStore.open(target, clock=lambda: now[0])  # a second app process on the same database
    exchange_id = replica_a.record_exchange("s1", "q", _results())
    for replica in (replica_a, replica_b, replica_a):
        replica.add_vote(exchange_id, "rag", session_id="s1", limit_per_minute=3)
    with pytest.raises(VoteLimitError, match="at most 3 a minute"):
        replica_b.add_vote(exchange_id, "tie", session_id="s1", limit_per_minute=3)
    replica_b.add_vote(exchange_id, "tie", session_id="s2", limit_per_minute=3)  # another rater is not affected
    now[0] += timedelta(seconds=59)
    with pytest.raises(VoteLimitError):
        replica_a.add_vote(exchange_id, "tie", session_id="s1", limit_per_minute=3)
    now[0] += timedelta(seconds=1.5)
    replica_a.add_vote(exchange_id, "tie", session_id="s1", limit_per_minute=3)  # the first votes left the window
    assert len(replica_a.votes()) == 5  # refused votes left nothing behind


def test_a_signed_in_user_is_one_rater_across_sessions(target):
    store = FeedbackStore.open(target)
    exchange_id = store.record_exchange("s1", "q", _results(), user_name="alice")
    store.add_vote(exchange_id, "rag", session_id="s1", user_name="alice", limit_per_minute=2)
    store.add_vote(exchange_id, "rag", session_id="s2", user_name="alice", limit_per_minute=2)
    with pytest.raises(VoteLimitError):  # a new browser tab does not reset a signed-in user's limit
        store.add_vote(exchange_id, "rag", session_id="s3", user_name="alice", limit_per_minute=2)
    store.add_rating(exchange_id, "rag", session_id="s3", user_name="alice", comment="<b>fine</b>")
    assert store.rated_exchanges()[0]["rater"] == "alice"
    assert store.exchange(exchange_id)["user_name"] == "alice"
    (comment,) = store.comments()
    assert comment["comment"] == "<b>fine</b>" and comment["rater"] == "alice" and comment["question"] == "q"


def test_concurrent_writers_lose_and_duplicate_nothing(target):
    store = FeedbackStore.open(target)
    exchanges = [store.record_exchange(f"s{i}", "q", _results()) for i in range(20)]
    acknowledged: list[int] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        ids = [store.add_vote(exchanges[i], "rag", session_id=f"s{i}", limit_per_minute=100) for _ in range(10)]
        with lock:
            acknowledged.extend(ids)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = [v["id"] for v in store.votes()]
    assert len(stored) == 200 and sorted(stored) == sorted(acknowledged) and len(set(stored)) == 200


def test_a_database_from_before_migrations_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(LEGACY_SCHEMA)
        old.execute("INSERT INTO exchanges VALUES ('e1', '2026-11-01T00:00:00.000+00:00', 's1', 'old q', '[]')")
        for pipeline in ("rag", "finetuned"):
            old.execute("INSERT INTO answers (exchange_id, pipeline, answer) VALUES ('e1', ?, 'a')", (pipeline,))
        old.execute("INSERT INTO votes (exchange_id, choice, session_id, created_at)"
                    " VALUES ('e1', 'finetuned', 's1', '2026-11-01T00:00:01.000+00:00')")
    store = FeedbackStore.open(path)
    (rated,) = store.rated_exchanges()
    assert rated["question"] == "old q" and rated["choice"] == "finetuned" and rated["rater"] == "s1"
    assert [(a["pipeline"], a["position"]) for a in rated["answers"]] == [("rag", 0), ("finetuned", 1)]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'latest_votes'").fetchone() is None
    FeedbackStore.open(path)  # opening again is a no-op


def test_migrate_command_on_a_server_database(postgres_database):
    run = subprocess.run([sys.executable, "-m", "pipelines.feedback", "migrate", "--db", postgres_database],
                         capture_output=True, text=True, timeout=120, check=True)
    assert "newest revision" in run.stdout
    engine = create_engine(database_url(postgres_database))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        tables = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    engine.dispose()
    assert {"exchanges", "answers", "votes", "ratings", "scores", "exchange_views"} <= tables


def test_database_url_gives_postgres_the_installed_driver(tmp_path):
    assert database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url(tmp_path / "x.sqlite3") == f"sqlite:///{tmp_path}/x.sqlite3"


def test_the_migrations_build_exactly_the_tables_the_code_declares(target):
    """``alembic check`` compares the migrated database with feedback_schema.py: nothing may differ."""
    FeedbackStore.open(target)
    url = database_url(target)
    alembic = [sys.executable, "-m", "alembic", "-x", f"url={url}", "check"]
    run = subprocess.run(alembic, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No new upgrade operations detected" in run.stdout + run.stderr
