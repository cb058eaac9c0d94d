"""Replace a file whole: a reader (or a process killed mid-write) sees the old file or the new one.

The content goes to a temporary file beside the target, then is renamed over it with ``os.replace`` (atomic on
one filesystem); the temporary file is removed if anything fails, and the error is raised as it came (an
``OSError`` for a full disk or a read-only folder). ``write_text_atomically`` writes text itself (the ingest
journal, the question-type edits); ``replaced_atomically`` hands the temporary path to a writer that makes the
file on its own (llama.cpp's converter and quantiser).

Example::

    write_text_atomically(data_dir / "question-types.json", json.dumps(edits))
    with replaced_atomically(cache_dir / "model.Q8_0.gguf") as temporary:
        quantise(source, temporary)                  # renamed over the target only if this returns
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def replaced_atomically(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (folders made) for a writer that creates the file itself; when the
    block ends without an error the file is renamed over ``path``, otherwise it is removed. Each call gets its own
    name, so two processes making the same file never write into one another's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
