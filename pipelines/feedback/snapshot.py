"""Votes that survive a Space restart with no external database: periodic snapshots to a Hub dataset.

Every few minutes :class:`FeedbackSnapshot` (a ``huggingface_hub.CommitScheduler``) copies the SQLite feedback
database with SQLite's online backup API (a consistent copy while the app writes, WAL included) and exports the
preference data (``dpo.jsonl``, ``ratings.jsonl``, ``queue_votes.jsonl``, ``agreement.json``, user names left out),
each written beside its final name and renamed into place, then commits what changed to a private dataset
repository. At start :func:`restore_snapshot` puts the last snapshot back before the store opens. The way hosted
arenas keep votes.

Restore first, then snapshot: a snapshot taken of a fresh, empty database would replace the good one on the
Hub, so the runtime starts the scheduler only after a restore that worked (or found no snapshot).

Example::

    restored = restore_snapshot("me/arena-votes", Path("data/feedback.sqlite3"))
    store = FeedbackStore.open(Path("data/feedback.sqlite3"))
    snapshot = FeedbackSnapshot(store, Path("data/feedback.sqlite3"), "me/arena-votes", every_min=5)
    ...
    snapshot.close()   # one last snapshot, then stop
"""

from __future__ import annotations

import filecmp
import logging
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from huggingface_hub import CommitScheduler, HfApi
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from pipelines.feedback.export import export_feedback
from pipelines.feedback.store import FeedbackStore

log = logging.getLogger(__name__)

DB_IN_REPO = "feedback/feedback.sqlite3"


class SnapshotError(RuntimeError):
    """The snapshot could not be restored (the Hub did not answer, or the file is not a database)."""


def backup_sqlite(source: Path, target: Path) -> Path:
    """A consistent copy of the SQLite database ``source`` at ``target`` (online backup API, so a database being
    written, WAL included, copies whole); written beside ``target`` and renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(Path(source).resolve().as_uri() + "?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target


def restore_snapshot(repo_id: str, db_path: Path, api: HfApi | None = None) -> bool:
    """Put the snapshot's database at ``db_path`` when there is none there yet (a fresh container). Returns
    whether one was restored; False when the repository or its snapshot does not exist yet (a first start).
    Raises :class:`SnapshotError` when the Hub fails otherwise or the file is not an SQLite database, and leaves
    ``db_path`` untouched then."""
    if db_path.exists():
        log.info("Feedback database %s exists: not restoring the snapshot over it", db_path)
        return False
    api = api or HfApi()
    with tempfile.TemporaryDirectory(prefix="arena-restore-") as tmp:
        try:
            downloaded = Path(api.hf_hub_download(repo_id=repo_id, filename=DB_IN_REPO, repo_type="dataset",
                                                  local_dir=tmp))
        except (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError):
            # The Hub answered: no such repository or file yet. (Not LocalEntryNotFoundError: the client raises
            # that when the Hub cannot be reached, and starting empty then would overwrite the real snapshot.)
            log.info("No snapshot in %s yet: starting with an empty feedback database", repo_id)
            return False
        except Exception as exc:  # the Hub is down or refuses the token: do not start from an empty database
            raise SnapshotError(f"Could not restore the feedback snapshot from the Hub dataset {repo_id}: {exc}") \
                from exc
        try:  # a consistent copy of a real database, or nothing
            backup_sqlite(downloaded, db_path)
        except sqlite3.DatabaseError as exc:
            raise SnapshotError(f"The snapshot {DB_IN_REPO} in {repo_id} is not an SQLite database: {exc}") from exc
    log.info("Restored the feedback database from the Hub dataset %s", repo_id)
    return True


class FeedbackSnapshot(CommitScheduler):
    """Snapshots the feedback database and its preference-data export to a private Hub dataset every
    ``every_min`` minutes (and once more at :meth:`close`); only files that changed are committed."""

    def __init__(self, store: FeedbackStore, db_path: Path, repo_id: str, every_min: float = 5.0,
                 folder: Path | None = None, api: HfApi | None = None) -> None:
        self.store = store
        self.db_path = db_path
        self.snapshots = 0
        folder = folder or db_path.parent / "snapshot"
        super().__init__(repo_id=repo_id, repo_type="dataset", folder_path=folder, every=every_min, private=True,
                         hf_api=api or HfApi())

    def write_snapshot(self) -> None:
        """The database copy and the export, each renamed into place (a commit never reads half a file); a file
        whose bytes did not change is left as it was, so the scheduler does not commit it again."""
        with tempfile.TemporaryDirectory(prefix="arena-snapshot-") as tmp:
            fresh = Path(tmp)
            backup_sqlite(self.db_path, fresh / DB_IN_REPO)
            result = export_feedback(self.store, fresh / "export")
            exported = (result.dpo_jsonl, result.ratings_jsonl, result.queue_votes_jsonl, result.agreement_json)
            for written in (fresh / DB_IN_REPO, *(path for path in exported if path is not None)):
                target = self.folder_path / written.relative_to(fresh)
                if target.is_file() and filecmp.cmp(written, target, shallow=False):
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                shutil.copyfile(written, partial)
                partial.replace(target)

    def push_to_hub(self):
        """Take the snapshot (under the scheduler's lock, so no upload reads it half-written), then commit it."""
        with self.lock:
            self.write_snapshot()
        info = super().push_to_hub()
        self.snapshots += 1
        return info

    def close(self) -> None:
        """One last snapshot (votes since the previous one), then stop; a failure is logged, not raised."""
        try:
            self.trigger().result(timeout=60)
        except Exception:
            log.exception("The last feedback snapshot to %s failed", self.repo_id)
        self.stop()
