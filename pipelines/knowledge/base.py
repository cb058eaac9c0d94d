"""The knowledge base as the UI sees it: named collections, their documents, ingestion and retrievers.

Originals of ingested files are kept under ``<data dir>/documents/<collection>/`` so a
document can be re-ingested with other chunk sizes, and so nothing depends on the
browser's temporary upload files.

Example::

    kb = KnowledgeBase(client, embedder, settings)
    report = kb.ingest_paths("Docs", [Path("guide.pdf")])
    kb.retriever(RetrievalOptions(collection="Docs", top_k=5, alpha=0.3)).run("warranty?", 5)
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

from pipelines.common.settings import Settings
from pipelines.knowledge.chunking import Chunker, HuggingFaceTokenizer
from pipelines.knowledge.embeddings import Embedder
from pipelines.knowledge.ingest import IngestProgress, IngestReport, ingest_files
from pipelines.knowledge.retrieval import CrossEncoderReranker, HybridRetriever, RetrievalOptions, WithNeighbours
from pipelines.knowledge.store import (
    DocumentMeta,
    KnowledgeStore,
    Retriever,
    collection_embedding_model,
    collection_name,
)
from pipelines.knowledge.uploads import UploadedFile, UploadLimits, expand_uploads

log = logging.getLogger(__name__)


class KnowledgeError(ValueError):
    """A knowledge-base action was refused; the message is shown to the user."""


def make_chunker(embedder: Embedder, settings: Settings, size: int | None = None,
                 overlap: int | None = None) -> Chunker:
    """A chunker counting the embedder's own tokens; sizes default to the settings."""
    size = size or settings.chunk_tokens
    overlap = settings.chunk_overlap_tokens if overlap is None else overlap
    if size > embedder.max_tokens - 8:  # room for a heading line and the special tokens
        raise KnowledgeError(f"Chunks of {size} tokens would be cut by the embedding model, which reads "
                             f"{embedder.max_tokens}; use at most {embedder.max_tokens - 8}.")
    try:
        return Chunker(size, overlap, HuggingFaceTokenizer(embedder.tokenizer()))
    except ValueError as exc:
        raise KnowledgeError(str(exc)) from exc


class KnowledgeBase:
    def __init__(self, client, embedder: Embedder, settings: Settings) -> None:
        self.client = client
        self.embedder = embedder
        self.settings = settings
        self.default_collection = collection_name(settings.collection)
        self._stores: dict[str, KnowledgeStore] = {}
        self._reranker = None
        self._lock = threading.Lock()  # one ingestion at a time: two writers of one document would race

    # Collections
    def store(self, collection: str | None = None) -> KnowledgeStore:
        """The store of a collection (created on first use with this app's embedding model). Opening it settles
        an ingestion that a crash cut short (the journal under :meth:`journal_dir`), so nothing reads half a
        document."""
        name = collection_name(collection or self.default_collection)
        if name not in self._stores:
            store = KnowledgeStore(self.client, name, self.embedder, journal_dir=self.journal_dir)
            store.ensure_collection()
            store.recover()
            self._stores[name] = store
        return self._stores[name]

    def collections(self) -> list[str]:
        """Collections made by this app (they record their embedding model), default first."""
        names = [name for name, config in self.client.collections.list_all(simple=True).items()
                 if collection_embedding_model(config.description) or name == self.default_collection]
        return sorted(names, key=lambda n: (n != self.default_collection, n))

    def create_collection(self, name: str) -> str:
        """A new, empty collection; :class:`KnowledgeError` for a bad name or one taken (in any letter case:
        Weaviate refuses "DOCS" beside "Docs")."""
        if not name.strip():
            raise KnowledgeError("Type a name for the new collection first.")
        try:
            name = collection_name(name.strip())
        except ValueError as exc:
            raise KnowledgeError(str(exc)) from exc
        taken = {existing.lower(): existing for existing in self.client.collections.list_all(simple=True)}
        if name.lower() in taken:
            raise KnowledgeError(f"A collection named {taken[name.lower()]} exists already.")
        return self.store(name).name

    def clear(self, collection: str) -> None:
        """Delete every document of a collection, and the kept originals."""
        with self._lock:
            self.store(collection).clear()
            shutil.rmtree(self.originals_dir(collection), ignore_errors=True)

    # Documents
    @property
    def journal_dir(self) -> Path:
        """The collections' write-ahead journals of ingestion (see :mod:`pipelines.knowledge.store`)."""
        return self.settings.data_dir / "ingest-journal"

    def originals_dir(self, collection: str | None) -> Path:
        """Where the originals of a collection's documents are kept (training reads them too)."""
        return self.settings.data_dir / "documents" / collection_name(collection or self.default_collection)

    def chunker(self, size: int | None = None, overlap: int | None = None) -> Chunker:
        return make_chunker(self.embedder, self.settings, size, overlap)

    def documents(self, collection: str | None = None) -> list[DocumentMeta]:
        return self.store(collection).documents()

    def ingest_files(self, collection: str | None, files: Sequence[UploadedFile], *, chunk_size: int | None = None,
                     overlap: int | None = None, on_progress: IngestProgress | None = None) -> IngestReport:
        chunker = self.chunker(chunk_size, overlap)
        store = self.store(collection)
        with self._lock:
            report = ingest_files(store, files, chunker, on_progress)
            folder = self.originals_dir(collection)
            for upload in files:
                if upload.name in report.files:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / upload.name).write_bytes(upload.data)
        log.info("ingested into %s: %d files, %d chunks, %d refused", store.name, len(report.files),
                 report.chunks, len(report.failed))
        return report

    def ingest_paths(self, collection: str | None, paths: Sequence[Path], *, chunk_size: int | None = None,
                     overlap: int | None = None, on_progress: IngestProgress | None = None) -> IngestReport:
        """Uploaded files and zip folders, with the size limits of the settings."""
        collection_name(collection or self.default_collection)  # a bad name is refused even when no file is usable
        limits = UploadLimits(max_file_bytes=int(self.settings.max_upload_mb * 1024 * 1024),
                              max_zip_total_bytes=int(self.settings.max_zip_total_mb * 1024 * 1024))
        files, refused = expand_uploads(paths, limits)
        if not files:
            return IngestReport(failed=refused)
        report = self.ingest_files(collection, files, chunk_size=chunk_size, overlap=overlap, on_progress=on_progress)
        return report.merge_refusals(refused)

    def delete_document(self, collection: str | None, source: str) -> int:
        deleted = self.delete_document_if_present(collection, source)
        if not deleted:
            raise KnowledgeError(f"No document named {source!r} in {self.store(collection).name}.")
        return deleted

    def delete_document_if_present(self, collection: str | None, source: str) -> int:
        """Delete a document's chunks and kept original; returns how many chunks went (0 if it was not there)."""
        with self._lock:
            # Originals are kept under their plain name: "x/notes.txt" is not notes.txt (it removed notes.txt's
            # original, chunks kept); "", "." and ".." name the folder itself (unlink raised IsADirectoryError).
            original = self.originals_dir(collection) / Path(source).name
            if Path(source).name == source and original.is_file():
                original.unlink()
            return self.store(collection).delete_document(source)

    def reingest(self, collection: str | None, source: str, *, chunk_size: int | None = None,
                 overlap: int | None = None) -> IngestReport:
        """Read the kept original again (for instance with new chunk sizes) and replace the stored chunks."""
        original = self.originals_dir(collection) / Path(source).name
        if not original.is_file():
            raise KnowledgeError(f"The original of {source!r} is not kept here (it was ingested elsewhere); "
                                 "upload it again instead.")
        return self.ingest_files(collection, [UploadedFile(original.name, original.read_bytes())],
                                 chunk_size=chunk_size, overlap=overlap)

    # Retrieval
    def _load_reranker(self):
        if self._reranker is None:
            if not self.settings.reranker_model:
                raise KnowledgeError("No reranker is configured: set ARENA_RERANKER_MODEL to a cross-encoder "
                                     "(e.g. cross-encoder/ms-marco-MiniLM-L-6-v2).")
            from sentence_transformers import CrossEncoder

            self._reranker = CrossEncoder(self.settings.reranker_model, device="cpu")
        return self._reranker

    @property
    def reranker_available(self) -> bool:
        return bool(self.settings.reranker_model)

    def retriever(self, options: RetrievalOptions) -> Retriever:
        """Hybrid search on the chosen collection, reranked if asked, with each hit's surroundings."""
        store = self.store(options.collection)
        retriever: Retriever = HybridRetriever(store, alpha=options.alpha)
        if options.rerank:
            retriever = CrossEncoderReranker(retriever, self._load_reranker(), self.settings.rerank_candidates)
        return WithNeighbours(retriever, store)
