"""Where the app's state lives on a Space, and a refusal to put SQLite-WAL or Weaviate files on a mount with no
file locking (an hf-mount bucket). Real folders and the real probe; a mount table file and a failing probe
stand for mounts this machine does not have."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.common import persistence
from pipelines.common import spaces as spaces_support
from pipelines.common.persistence import StorageError, check_folder, persistence_report, probe_folder
from pipelines.common.settings import PROJECT_ROOT, Settings
from pipelines.feedback.store import FeedbackStore
from pipelines.runtime import Runtime, check_storage


def mounts(tmp_path: Path, *lines: str) -> Path:
    table = tmp_path / "mounts"
    table.write_text("overlay / overlay rw,relatime 0 0\n" + "".join(line + "\n" for line in lines))
    return table


def test_a_local_folder_passes_the_real_probe_and_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "data"
    assert probe_folder(folder) == ""
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_an_hf_mount_is_found_in_the_mount_table(tmp_path):
    table = mounts(tmp_path, f"hf-mount {tmp_path}/bucket fuse.hf-mount rw,nosuid,nodev 0 0",
                   f"127.0.0.1:/ {tmp_path}/nfs nfs rw,vers=3,nolock 0 0",
                   f"/dev/sdb {tmp_path}/volume ext4 rw,relatime 0 0")
    bucket = check_folder(tmp_path / "bucket" / "arena", mounts_file=table)
    assert not bucket.safe and "hf-mount" in bucket.problem and "no file locking" in bucket.problem
    assert not check_folder(tmp_path / "nfs" / "arena", mounts_file=table).safe  # hf-mount's NFS mode
    volume = check_folder(tmp_path / "volume" / "arena", mounts_file=table)
    assert volume.safe and volume.persistent
    disk = check_folder(tmp_path / "elsewhere", mounts_file=table)
    assert disk.safe and not disk.persistent  # the container's own disk: wiped at restart
    assert check_folder(tmp_path / "elsewhere", mounts_file=table, container=False).persistent  # a laptop


def test_a_folder_without_locking_is_unsafe(tmp_path):
    check = check_folder(tmp_path, mounts_file=mounts(tmp_path),
                         probe=lambda folder: "file locking fails there (Function not implemented)")
    assert not check.safe and "locking" in check.problem


@pytest.fixture
def no_locking(monkeypatch):
    """Every folder probes as having no file locking (the seam for a mount this machine lacks)."""
    monkeypatch.setattr(persistence, "probe_folder", lambda folder: "file locking fails there (ENOLCK)")


def test_sqlite_and_weaviate_data_are_refused_on_a_mount_without_locking(tmp_path, no_locking):
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(StorageError) as refused:
        Runtime.start(settings)  # refused before anything is opened or started
    message = str(refused.value)
    for what in ("ARENA_DATA_DIR", "file locking", "ARENA_DATABASE_URL", "ARENA_SNAPSHOT_REPO", "ARENA_WEAVIATE_URL"):
        assert what in message
    assert not (tmp_path / "data" / "feedback.sqlite3").exists()
    # Both databases elsewhere: only plain files land in the folder, which is fine
    check_storage(Settings(data_dir=tmp_path / "data", database_url="postgresql://db/arena",
                           weaviate_url="https://cluster.weaviate.cloud"))


def test_a_space_does_not_put_its_data_on_a_data_mount_without_locking(tmp_path, monkeypatch, no_locking):
    monkeypatch.setattr(spaces_support, "SPACES_PERSISTENT_DIR", tmp_path)
    monkeypatch.setenv("SYSTEM", "spaces")
    assert Settings().data_dir == PROJECT_ROOT / "data"  # the Space's own disk, reported as lost at restart


def test_the_report_says_what_survives_a_restart_and_what_to_set(tmp_path):
    table = mounts(tmp_path, f"/dev/sdb {tmp_path}/volume ext4 rw 0 0")
    ephemeral = check_folder(tmp_path / "app" / "data", mounts_file=table)
    bare = persistence_report(ephemeral, database_url=None, weaviate_url=None, snapshot=None)
    assert not bare.votes.durable and not bare.documents.durable and not bare.adapters.durable
    for what in ("votes, documents, adapters", "ARENA_DATABASE_URL", "ARENA_SNAPSHOT_REPO", "ARENA_WEAVIATE_URL"):
        assert what in bare.warning()
    assert bare.summary().startswith("votes: LOST at restart")
    external = persistence_report(ephemeral, database_url="postgresql://db/a", weaviate_url="https://w", snapshot=None)
    assert external.votes.durable and external.documents.durable and not external.adapters.durable
    assert external.warning().startswith("This Space keeps adapters only until it restarts")
    snapshotted = persistence_report(ephemeral, database_url=None, weaviate_url=None,
                                     snapshot="Hub dataset alice/votes every 5 min")
    assert snapshotted.votes.durable and "alice/votes" in snapshotted.summary()
    volume = persistence_report(check_folder(tmp_path / "volume" / "arena", mounts_file=table), database_url=None,
                                weaviate_url=None, snapshot=None)
    assert volume.all_durable and volume.warning() == ""


def test_healthz_reports_persistence(tmp_path, monkeypatch):
    """``Runtime.health`` (what /healthz and /health answer) carries the report, for a Space and a laptop."""
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    try:
        for system, expected in (("spaces", "votes: LOST at restart"), ("", "votes: kept (persistent folder")):
            monkeypatch.setenv("SYSTEM", system)
            runtime = SimpleNamespace(settings=Settings(data_dir=tmp_path), storage=None, snapshot=None, server=None,
                                      client=None, feedback=store, backend=None)
            runtime.persistence = lambda runtime=runtime: Runtime.persistence(runtime)
            assert Runtime.health(runtime)["persistence"].startswith(expected)
    finally:
        store.close()


def test_the_probe_finds_a_folder_it_cannot_write(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anywhere: a file in the way instead
            folder.chmod(0o700)
            folder.rmdir()
            folder.write_text("a file, not a folder")
        assert "cannot create a file there" in probe_folder(folder)
    finally:
        if folder.is_dir():
            folder.chmod(0o700)
