"""Replace a small file whole: a reader (or a process killed mid-write) sees the old file or the new one.

The text goes to a temporary file beside the target, is flushed and fsynced, then renamed over it with
``os.replace`` (atomic on one filesystem); the temporary file is removed if anything fails, and the error is
raised as it came (an ``OSError`` for a full disk or a read-only folder). Used by the ingest journal and the
question-type edits.

Example::

    write_text_atomically(data_dir / "question-types.json", json.dumps(edits))
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a synced temporary file renamed over it; folders are made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
