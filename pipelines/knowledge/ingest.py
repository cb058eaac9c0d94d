"""Ingestion: read files, chunk them, embed them and store them in Weaviate, one report for the batch.

Every file is read and chunked before anything is written, and each file is stored as a
whole or not at all: a failure in one file leaves the others ingested and is reported by name.

Example::

    report = ingest_folder(store, Path("assets/corpus"), Chunker(200, 40))
    report.chunks, report.failed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.common.documents import document_files
from pipelines.knowledge.chunking import Chunk, Chunker
from pipelines.knowledge.readers import ReadError, read_document
from pipelines.knowledge.store import DocumentMeta, KnowledgeStore
from pipelines.knowledge.uploads import UploadedFile

# (fraction done, message) after each file read and each slice embedded: gr.Progress and tqdm both fit
IngestProgress = Callable[[float, str], None]

@dataclass
class IngestReport:
    files: dict[str, int] = field(default_factory=dict)  # ingested file -> chunks it has now
    failed: dict[str, str] = field(default_factory=dict)  # refused file -> why

    @property
    def chunks(self) -> int:
        return sum(self.files.values())

    def merge_refusals(self, refused: dict[str, str]) -> IngestReport:
        self.failed.update(refused)
        return self

def parse_and_chunk(files: Sequence[UploadedFile], chunker: Chunker,
                    on_progress: IngestProgress | None = None) -> tuple[list[tuple[DocumentMeta, list[Chunk]]],
                                                                        dict[str, str]]:
    """Read and chunk every file; ``(documents, failed)``. Reading is half of the progress bar."""
    documents: list[tuple[DocumentMeta, list[Chunk]]] = []
    failed: dict[str, str] = {}
    seen: set[str] = set()
    for number, upload in enumerate(files, start=1):
        if on_progress:
            on_progress(0.5 * number / max(len(files), 1), f"reading {upload.name}")
        if upload.name in seen:
            failed[upload.name] = "the batch holds two files with this name; the first one was kept"
            continue
        try:
            parsed = read_document(upload.name, upload.data)
            chunks = chunker.chunk(parsed)
            if not chunks:
                raise ReadError("no text could be extracted from the file")
        except ReadError as exc:
            failed[upload.name] = str(exc)
            continue
        except Exception as exc:  # a library failing on a hostile file: report it, keep the batch going
            failed[upload.name] = f"could not be read ({type(exc).__name__}: {exc})"
            continue
        seen.add(upload.name)
        documents.append((DocumentMeta(upload.name, parsed.doc_type, parsed.size_bytes), chunks))
    return documents, failed

def ingest_files(store: KnowledgeStore, files: Sequence[UploadedFile], chunker: Chunker,
                 on_progress: IngestProgress | None = None) -> IngestReport:
    """Ingest a batch of files into the store; failures are reported per file, never partially stored."""
    store.ensure_collection()
    documents, failed = parse_and_chunk(files, chunker, on_progress)
    report = IngestReport(failed=failed)

    def embedded(done: int, total: int) -> None:
        if on_progress:
            on_progress(0.5 + 0.5 * done / total, f"embedding {done}/{total} chunks")

    for name, outcome in store.replace_documents(documents, embedded).items():
        if isinstance(outcome, Exception):
            report.failed[name] = f"not stored: {outcome}"
        else:
            report.files[name] = outcome
    if on_progress:
        on_progress(1.0, f"{len(report.files)} files ingested")
    return report

def folder_files(folder: Path) -> list[UploadedFile]:
    """The readable documents directly inside a folder (see :func:`~pipelines.common.documents.document_files`)."""
    return [UploadedFile(path.name, path.read_bytes()) for path in document_files(folder)]

def ingest_folder(store: KnowledgeStore, folder: Path, chunker: Chunker) -> IngestReport:
    return ingest_files(store, folder_files(folder), chunker)
