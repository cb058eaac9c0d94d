"""Constructors only describe; the heavy step (a migration, a thread) waits for ``start()``."""

import threading

from sqlalchemy import inspect

from pipelines.evaluation.scorer import ScoringWorker
from pipelines.feedback.store import FeedbackStore


def test_feedback_store_migrates_on_start_not_in_the_constructor(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    assert "exchanges" not in inspect(store.engine).get_table_names()
    assert store.start() is store
    assert "exchanges" in inspect(store.engine).get_table_names()
    assert "votes" in inspect(FeedbackStore.open(tmp_path / "f.sqlite3").engine).get_table_names()


def test_scoring_worker_starts_its_thread_on_start(tmp_path):
    before = {t.name for t in threading.enumerate()}
    worker = ScoringWorker(FeedbackStore.open(tmp_path / "f.sqlite3"), scorer_factory=lambda: None)
    assert "ragas-scoring" not in {t.name for t in threading.enumerate()} - before
    worker.start()
    try:
        assert "ragas-scoring" in {t.name for t in threading.enumerate()}
    finally:
        worker.stop(wait_s=5)
