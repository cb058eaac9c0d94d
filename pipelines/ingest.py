"""Read a folder of documents, chunk them, embed them and store them in Weaviate.

Example::

    report = ingest_folder(store, Path("assets/corpus"), words=120, overlap=30)
    report.chunks, report.failed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipelines.chunking import Chunk, chunk_document
from pipelines.store import KnowledgeStore

TEXT_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass
class IngestReport:
    files: list[str] = field(default_factory=list)
    chunks: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file; binary or empty files are refused with a clear message."""
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("the file is empty")
    if b"\x00" in raw[:4096]:
        raise ValueError("the file looks binary, not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


def chunk_folder(folder: Path, *, words: int, overlap: int) -> tuple[list[Chunk], IngestReport]:
    report = IngestReport()
    chunks: list[Chunk] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            file_chunks = chunk_document(path.name, read_text_file(path), words=words, overlap=overlap)
        except (OSError, ValueError) as exc:
            report.failed[path.name] = str(exc)
            continue
        chunks.extend(file_chunks)
        report.files.append(path.name)
    return chunks, report


def ingest_folder(store: KnowledgeStore, folder: Path, *, words: int, overlap: int) -> IngestReport:
    store.ensure_collection()
    chunks, report = chunk_folder(folder, words=words, overlap=overlap)
    report.chunks = store.add_chunks(chunks)
    return report
