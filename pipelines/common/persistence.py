"""Will votes, documents and adapters survive a restart? And is the data folder safe for SQLite and Weaviate?

A Space's disk is wiped at every restart; state lasts only in an external database (PostgreSQL, Weaviate
Cloud), on a mounted volume, or in a snapshot pushed to a Hub dataset. A Storage Bucket mounted with hf-mount
has no file locking and takes only appended writes, so SQLite in WAL mode and Weaviate's files corrupt
there: :func:`check_folder` finds such a mount (``/proc/mounts``) and probes the folder itself (an ``fcntl``
lock and an in-place rewrite), and :func:`persistence_report` says, per kind of state, where it lasts.

Example::

    check = check_folder(Path("/data/arena"), container=True)   # in a Space
    if not check.safe:
        raise StorageError(unsafe_folder_message(check))
    report = persistence_report(check, database_url=None, weaviate_url=None, snapshot=None)
    print(report.summary())
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC_MOUNTS = Path("/proc/mounts")
#: File systems a container's own disk uses: data there is gone when the Space restarts.
EPHEMERAL_FILESYSTEMS = frozenset({"overlay", "tmpfs", "ramfs", "aufs", "rootfs"})


class StorageError(RuntimeError):
    """The data folder cannot hold SQLite or Weaviate files safely; the message says what to do."""


@dataclass(frozen=True)
class Mount:
    point: Path
    fstype: str
    source: str
    options: tuple[str, ...]

    @property
    def hf_mount(self) -> bool:
        """A Hub bucket or repository mounted by hf-mount (FUSE, or NFS served from the container itself)."""
        text = f"{self.fstype} {self.source}".lower()
        local_nfs = self.fstype.startswith("nfs") and self.source.split(":")[0] in {"localhost", "127.0.0.1", "::1"}
        return "hf-mount" in text or "hf_mount" in text or "hf://" in text or local_nfs


@dataclass(frozen=True)
class FolderCheck:
    """What a data folder is: on which mount, whether it outlives the container, whether SQLite is safe there."""

    path: Path
    mount: Mount | None
    persistent: bool
    problem: str = ""  # why SQLite-WAL and Weaviate files are not safe here; empty when they are

    @property
    def safe(self) -> bool:
        return not self.problem


def read_mounts(mounts_file: Path = PROC_MOUNTS) -> list[Mount]:
    """The mount table (``/proc/mounts`` format); empty when it cannot be read (not Linux)."""
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4:  # /proc/mounts escapes spaces in paths as \040
            point = fields[1].replace("\\040", " ")
            mounts.append(Mount(Path(point), fields[2], fields[0], tuple(fields[3].split(","))))
    return mounts


def mount_of(path: Path, mounts: list[Mount]) -> Mount | None:
    """The mount ``path`` lies on: the longest mount point above it (the last one mounted, if stacked)."""
    path = Path(os.path.abspath(path))
    best: Mount | None = None
    for mount in mounts:
        under = path == mount.point or mount.point in path.parents
        if under and (best is None or len(mount.point.parts) >= len(best.point.parts)):
            best = mount
    return best


def probe_folder(folder: Path) -> str:
    """Try what SQLite in WAL mode needs in ``folder``: an ``fcntl`` lock and rewriting bytes in place.
    Returns why it failed, or "" when both work. The folder is created if missing; the probe file is removed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".arena-probe-", dir=folder)
    except OSError as exc:
        return f"cannot create a file there ({exc.strerror or exc})"
    try:
        with os.fdopen(fd, "r+b") as probe:
            probe.write(b"0123456789")
            probe.flush()
            try:
                fcntl.lockf(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.lockf(probe, fcntl.LOCK_UN)
            except OSError as exc:
                return f"file locking fails there ({exc.strerror or exc})"
            try:
                probe.seek(2)
                probe.write(b"ab")
                probe.flush()
                os.fsync(probe.fileno())
                probe.seek(0)
                rewritten = probe.read()
            except OSError as exc:
                return f"rewriting a file in place fails there ({exc.strerror or exc})"
            if rewritten != b"01ab456789":
                return "a file rewritten in place does not read back as written"
        return ""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def check_folder(folder: Path, *, container: bool = True, mounts_file: Path | None = None,
                 probe: Callable[[Path], str] | None = None) -> FolderCheck:
    """Where ``folder`` lies and whether SQLite-WAL and Weaviate data are safe there (``probe`` is the seam a test
    replaces to stand for a mount without locking). In a ``container`` (a Space) only a folder on a mounted
    volume outlives a restart; elsewhere any disk does (not a RAM file system)."""
    mount = mount_of(folder, read_mounts(mounts_file or PROC_MOUNTS))
    if mount is None:
        persistent = not container
    elif container:
        persistent = mount.point != Path("/") and mount.fstype not in EPHEMERAL_FILESYSTEMS
    else:
        persistent = mount.fstype not in {"tmpfs", "ramfs"}
    if mount is not None and mount.hf_mount:
        problem = (f"{mount.point} is an hf-mount ({mount.fstype} from {mount.source}): no file locking and "
                   "append-only writes")
    else:
        problem = (probe or probe_folder)(folder)
    return FolderCheck(Path(folder), mount, persistent, problem)


def unsafe_folder_message(check: FolderCheck) -> str:
    """Why the app refuses to keep its database and Weaviate files in ``check.path``, and what to do instead."""
    return (f"The data folder {check.path} (ARENA_DATA_DIR) is not safe for SQLite in WAL mode or Weaviate's files: "
            f"{check.problem}. Keep them elsewhere: set ARENA_DATA_DIR to a local folder (a Space's own disk) and "
            "keep the votes with ARENA_DATABASE_URL (PostgreSQL) or ARENA_SNAPSHOT_REPO (a Hub dataset the app "
            "snapshots to), and the documents with ARENA_WEAVIATE_URL (Weaviate Cloud). A mounted bucket is fine "
            "for files written whole, not for databases.")


@dataclass(frozen=True)
class Durability:
    durable: bool
    where: str


@dataclass(frozen=True)
class PersistenceReport:
    """Per kind of state (votes, documents, adapters): whether it survives a restart, and where it lives."""

    votes: Durability
    documents: Durability
    adapters: Durability

    def items(self) -> list[tuple[str, Durability]]:
        return [("votes", self.votes), ("documents", self.documents), ("adapters", self.adapters)]

    @property
    def all_durable(self) -> bool:
        return all(d.durable for _, d in self.items())

    def summary(self) -> str:
        """One line for ``/healthz``: ``votes: kept (…); documents: LOST at restart (…); …``."""
        return "; ".join(f"{name}: {'kept' if d.durable else 'LOST at restart'} ({d.where})"
                         for name, d in self.items())

    def warning(self) -> str:
        """The start-up problem a Space shows when something is lost at restart, with what to set; "" if none."""
        lost = [name for name, d in self.items() if not d.durable]
        if not lost:
            return ""
        fixes = {"votes": "ARENA_DATABASE_URL (PostgreSQL) or ARENA_SNAPSHOT_REPO (snapshots to a Hub dataset)",
                 "documents": "ARENA_WEAVIATE_URL (Weaviate Cloud)",
                 "adapters": "a persistent volume with file locking as ARENA_DATA_DIR"}
        return (f"This Space keeps {', '.join(lost)} only until it restarts (its disk is wiped). To keep them set: "
                + "; ".join(f"{name}: {fixes[name]}" for name in lost) + " (docs/deploy.md).")


def persistence_report(check: FolderCheck, *, database_url: str | None, weaviate_url: str | None,
                       snapshot: str | None) -> PersistenceReport:
    """Where each kind of state lasts, from the settings and the data folder's check; ``snapshot`` describes the
    Hub snapshot of the votes when one runs (e.g. ``"Hub dataset me/arena-votes every 5 min"``)."""
    on_disk = Durability(True, f"persistent folder {check.path}") if check.persistent and check.safe else None
    lost = Durability(False, f"{check.path} is on the container's own disk" if not check.persistent
                      else f"{check.path} is not safe: {check.problem}")
    if database_url:
        votes = Durability(True, "PostgreSQL at ARENA_DATABASE_URL")
    elif on_disk:
        votes = on_disk
    elif snapshot:
        votes = Durability(True, f"snapshot to {snapshot}")
    else:
        votes = lost
    documents = Durability(True, "Weaviate at ARENA_WEAVIATE_URL") if weaviate_url else on_disk or lost
    return PersistenceReport(votes, documents, on_disk or lost)

