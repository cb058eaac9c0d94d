"""Votes survive a Space restart with no external database: snapshots of the real SQLite store to a Hub
dataset with huggingface_hub's real CommitScheduler, restored at the next start.

The Hub is a stand-in at the ``HfApi`` level (:class:`LocalHub`): repositories are folders, a commit writes
each operation's bytes (read through the real ``CommitOperationAdd``/``PartialFileIO`` the scheduler builds),
and a download copies the file back or raises the client's own errors for a missing repository or file. What
it does not cover: the Hub's HTTP protocol, authentication, LFS/Xet uploads and the Hub's own 404/401
choices. The offline case runs the real client (``HF_HUB_OFFLINE=1``): it must never pass for "no snapshot yet".
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError, RepositoryNotFoundError

from pipelines.common.events import PipelineResult
from pipelines.common.settings import Settings
from pipelines.feedback import snapshot as snapshot_module
from pipelines.feedback.snapshot import DB_IN_REPO, FeedbackSnapshot, SnapshotError, backup_sqlite, restore_snapshot
from pipelines.feedback.store import FeedbackStore

REPO = "alice/arena-votes"


def _not_found(kind: type[Exception], what: str) -> Exception:
    response = httpx.Response(404, request=httpx.Request("GET", f"https://hub.invalid/{what}"))
    return kind(f"404: {what}", response=response)


class LocalHub(HfApi):
    """A Hub on disk: ``root/<repo_type>s/<repo_id>/<path>``; every commit's paths are recorded."""

    def __init__(self, root: Path, down: bool = False) -> None:
        super().__init__(token="hf_standin")
        self.root, self.down = root, down
        self.commits: list[list[str]] = []
        self.created: list[tuple[str, bool | None]] = []

    def folder(self, repo_id: str, repo_type: str | None) -> Path:
        return self.root / f"{repo_type or 'model'}s" / repo_id

    def create_repo(self, repo_id, *, private=None, repo_type=None, exist_ok=False, **_):
        self.folder(repo_id, repo_type).mkdir(parents=True, exist_ok=exist_ok)
        self.created.append((repo_id, private))
        return SimpleNamespace(repo_id=repo_id)

    def create_commit(self, repo_id, operations, *, commit_message, repo_type=None, revision=None, **_):
        folder = self.folder(repo_id, repo_type)
        for operation in operations:
            target = folder / operation.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            with operation.as_file() as data:
                target.write_bytes(data.read())
        self.commits.append(sorted(op.path_in_repo for op in operations))
        return SimpleNamespace(oid=str(len(self.commits)))

    def hf_hub_download(self, repo_id, filename, *, repo_type=None, local_dir=None, **_):
        if self.down:  # what the real client raises when the Hub does not answer
            raise LocalEntryNotFoundError("An error happened while trying to locate the file on the Hub")
        folder = self.folder(repo_id, repo_type)
        if not folder.is_dir():
            raise _not_found(RepositoryNotFoundError, repo_id)
        if not (folder / filename).is_file():
            raise _not_found(RemoteEntryNotFoundError, filename)
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / filename, target)
        return str(target)


def answered(question: str) -> list[PipelineResult]:
    return [PipelineResult(pipeline="rag", answer=f"RAG on {question}"),
            PipelineResult(pipeline="finetuned", answer=f"FT on {question}")]


def vote(store: FeedbackStore, question: str, choice: str = "rag", user: str | None = "alice") -> str:
    exchange_id = store.record_exchange("s1", question, answered(question))
    store.add_vote(exchange_id, choice, session_id="s1", user_name=user)
    return exchange_id


def votes_in(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("SELECT exchange_id, choice FROM votes").fetchall())


def test_a_backup_of_a_database_being_written_is_whole(tmp_path):
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    try:
        ids = [vote(store, f"q{i}") for i in range(3)]
        assert (tmp_path / "feedback.sqlite3-wal").stat().st_size > 0  # committed rows still in the WAL
        copy = backup_sqlite(tmp_path / "feedback.sqlite3", tmp_path / "out" / "copy.sqlite3")
        assert [row[0] for row in votes_in(copy)] == sorted(ids)
        assert not (tmp_path / "out" / "copy.sqlite3.partial").exists()
    finally:
        store.close()


def test_votes_survive_a_restart_through_the_snapshot(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    first = tmp_path / "container-1" / "feedback.sqlite3"
    assert restore_snapshot(REPO, first, api=hub) is False  # the very first start: nothing to restore
    store = FeedbackStore.open(first)
    snapshot = FeedbackSnapshot(store, first, REPO, every_min=60, api=hub)
    try:
        kept = [vote(store, "Who founded Lumenhollow?"), vote(store, "Where is the office?", "finetuned")]
    finally:
        snapshot.close()  # the last snapshot, as the app's shutdown takes it
        store.close()
    assert hub.created == [(REPO, True)]  # a private dataset: the database holds user names
    stored = hub.folder(REPO, "dataset")
    assert (stored / DB_IN_REPO).is_file()
    ratings = [json.loads(line) for line in (stored / "export" / "ratings.jsonl").read_text().splitlines()]
    assert len(ratings) == 4 and all(row["rater"] is None for row in ratings)  # no user names in the export
    assert (stored / "export" / "dpo.jsonl").read_text().count("\n") == 2

    second = tmp_path / "container-2" / "feedback.sqlite3"  # a new container: the disk was wiped
    assert restore_snapshot(REPO, second, api=hub) is True
    restarted = FeedbackStore.open(second)
    try:
        assert {row["exchange_id"] for row in restarted.rated_exchanges()} == set(kept)
        assert restarted.rated_exchanges()[0]["rater"] == "alice"
    finally:
        restarted.close()


def test_a_snapshot_commits_only_what_changed(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    db = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore.open(db)
    vote(store, "q0")
    snapshot = FeedbackSnapshot(store, db, REPO, every_min=60, api=hub)
    try:
        snapshot.trigger().result(timeout=30)  # queued behind the scheduler's own first snapshot
        assert hub.commits == [sorted([DB_IN_REPO, "export/dpo.jsonl", "export/ratings.jsonl",
                                       "export/queue_votes.jsonl", "export/agreement.json"])]
        snapshot.trigger().result(timeout=30)
        assert len(hub.commits) == 1  # nothing changed: nothing committed
        vote(store, "q1", "tie")  # a tie is no DPO pair: dpo.jsonl stays as it was
        snapshot.trigger().result(timeout=30)
        assert hub.commits[1] == sorted([DB_IN_REPO, "export/ratings.jsonl"])
    finally:
        snapshot.close()
        store.close()
    assert votes_in(hub.folder(REPO, "dataset") / DB_IN_REPO) == votes_in(db)


def test_a_restore_that_fails_raises_and_never_passes_for_a_first_start(tmp_path):
    db = tmp_path / "data" / "feedback.sqlite3"
    with pytest.raises(SnapshotError, match="Could not restore"):
        restore_snapshot(REPO, db, api=LocalHub(tmp_path / "hub", down=True))
    with pytest.raises(SnapshotError, match="Could not restore"):  # the real client, offline (conftest)
        restore_snapshot(REPO, db, api=HfApi(token="hf_standin"))
    not_a_database = LocalHub(tmp_path / "hub")
    (not_a_database.folder(REPO, "dataset") / "feedback").mkdir(parents=True)
    (not_a_database.folder(REPO, "dataset") / DB_IN_REPO).write_text("not sqlite" * 100)
    with pytest.raises(SnapshotError, match="not an SQLite database"):
        restore_snapshot(REPO, db, api=not_a_database)
    assert not db.exists() and not db.with_name(db.name + ".partial").exists()


def test_an_existing_database_is_never_replaced_by_the_snapshot(tmp_path):
    hub = LocalHub(tmp_path / "hub")
    (hub.folder(REPO, "dataset") / "feedback").mkdir(parents=True)
    other = FeedbackStore.open(tmp_path / "other.sqlite3")
    vote(other, "from another life")
    other.close()
    backup_sqlite(tmp_path / "other.sqlite3", hub.folder(REPO, "dataset") / DB_IN_REPO)
    db = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore.open(db)
    mine = vote(store, "mine")
    store.close()
    assert restore_snapshot(REPO, db, api=hub) is False
    assert [row[0] for row in votes_in(db)] == [mine]


def test_the_runtime_snapshots_only_after_a_restore_that_worked(tmp_path, monkeypatch):
    """The runtime's wiring (ARENA_SNAPSHOT_REPO): restore before the store opens, snapshots after; a failed
    restore leaves snapshots off and says so (an empty database must not replace the Hub's)."""
    from pipelines.runtime import _restore_snapshot, _start_snapshot

    hub = LocalHub(tmp_path / "hub")
    monkeypatch.setattr(snapshot_module, "HfApi", lambda *a, **k: hub)
    settings = Settings(data_dir=tmp_path / "c1", snapshot_repo=REPO, snapshot_every_min=60)
    assert _restore_snapshot(settings) == ""
    store = FeedbackStore.open(settings.feedback_target)
    snapshot, problem = _start_snapshot(settings, store)
    assert problem == "" and snapshot is not None
    kept = vote(store, "q")
    snapshot.close()
    store.close()

    restarted = Settings(data_dir=tmp_path / "c2", snapshot_repo=REPO)
    assert _restore_snapshot(restarted) == "" and [row[0] for row in votes_in(restarted.feedback_db)] == [kept]
    hub.down = True
    problem = _restore_snapshot(Settings(data_dir=tmp_path / "c3", snapshot_repo=REPO))
    assert problem.startswith("Votes are not snapshotted this run: Could not restore")
    assert _restore_snapshot(Settings(data_dir=tmp_path / "c4", snapshot_repo=REPO,
                                      database_url="postgresql://db/arena")) == ""  # PostgreSQL: no snapshot
