"""The knowledge store: document chunks in a Weaviate collection, searched with hybrid (BM25 + vector).

A collection records the embedding model it was built with (in its description); opening it
with another model is refused, because its vectors would be compared with vectors of a
different space. Documents are replaced as a whole: the new version's chunks are written
first, then the old version's leftovers are deleted, so a failure never leaves half a document.

A crash of the app (SIGKILL, out of memory) between those steps is covered by a write-ahead journal, when the
store has one (:class:`~pipelines.knowledge.base.KnowledgeBase` gives each collection ``<data dir>/ingest-journal/
<collection>.json``): before the first chunk of a batch is written, the journal records each document's new
chunk ids and its previous ones; it is removed once every document of the batch is settled. Weaviate has no
transactions, so :meth:`KnowledgeStore.recover` (run when the store is opened and before every write) settles a
journal left behind, document by document: every new chunk stored means the write finished, so the previous
version's leftovers go (roll forward); otherwise the new chunks written so far go and the previous version,
which was never touched, is whole again (roll back). Either way each document holds all of one version's
chunks, or none when it had no previous version.

Example::

    store = KnowledgeStore(client, "Docs", embedder)
    store.ensure_collection()
    store.replace_documents([(DocumentMeta("guide.md", "md", 1200), chunks)])
    hits = store.hybrid_search("battery life of the T4", top_k=3, alpha=0.5)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import weaviate
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.data import DataObject
from weaviate.classes.init import Auth
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.exceptions import WeaviateStartUpError
from weaviate.util import generate_uuid5

from pipelines.common.atomic_file import write_text_atomically
from pipelines.common.events import RetrievedChunk
from pipelines.common.settings import Settings
from pipelines.knowledge.chunking import Chunk
from pipelines.knowledge.embeddings import Embedder

log = logging.getLogger(__name__)
_META_PREFIX = "rag-ft-arena:"
MAX_CHUNKS_PER_DOCUMENT = 10_000  # Weaviate's default QUERY_MAXIMUM_RESULTS
INSERT_BATCH = 1000  # objects per gRPC insert_many call
ProgressCallback = Callable[[int, int], None]  # (done, total)
_COLLECTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_COLLECTION_NAME = 255  # Weaviate's longest class name


class RetrievalError(RuntimeError):
    """Retrieval failed (for instance Weaviate is unreachable); the message is shown to the user."""


class EmbeddingMismatchError(ValueError):
    """The collection was embedded with another model than the one loaded; its vectors do not compare."""


class Retriever(Protocol):
    """Anything that turns a question into ranked chunks: hybrid search, a reranker wrapping it, ..."""

    def run(self, query: str, top_k: int, sources: Sequence[str] | None = None) -> list[RetrievedChunk]: ...


@dataclass(frozen=True)
class DocumentMeta:
    """What the document list shows about one file."""

    name: str
    doc_type: str
    size_bytes: int
    added_at: datetime | None = None
    chunks: int = 0


def connect(settings: Settings, http_port: int | None = None, grpc_port: int | None = None):
    """Connect to a remote Weaviate (``ARENA_WEAVIATE_URL`` + key: a cluster or Weaviate Cloud) or the local one.

    No call leaves for anywhere but that Weaviate: the client's own start-up checks also ask PyPI for its
    latest version (a call out that an offline or private deployment does not expect), so they are skipped and
    replaced by a readiness check of the server itself."""
    where = settings.weaviate_url or f"127.0.0.1:{http_port or settings.weaviate_http_port}"
    try:
        client = _open_client(settings, http_port, grpc_port)
    except Exception as exc:  # any transport error means the same to the caller
        raise WeaviateStartUpError(f"Weaviate at {where} is not reachable: {exc}") from exc
    try:
        ready = client.is_ready()
    except Exception:  # a dropped connection: not ready
        ready = False
    if not ready:
        client.close()
        raise WeaviateStartUpError(f"Weaviate at {where} is not ready")
    return client


def _open_client(settings: Settings, http_port: int | None, grpc_port: int | None):
    if settings.weaviate_url:
        auth = Auth.api_key(settings.weaviate_api_key) if settings.weaviate_api_key else None
        url = settings.weaviate_url.rstrip("/")
        if "weaviate.cloud" in url or url.endswith(".weaviate.network"):
            return weaviate.connect_to_weaviate_cloud(cluster_url=url, auth_credentials=auth, skip_init_checks=True)
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"http://{url}")
        secure = parsed.scheme == "https"
        return weaviate.connect_to_custom(
            http_host=parsed.hostname or "localhost",
            http_port=parsed.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=settings.weaviate_grpc_host or parsed.hostname or "localhost",
            grpc_port=grpc_port or settings.weaviate_grpc_port,
            grpc_secure=secure,
            auth_credentials=auth,
            skip_init_checks=True,
        )
    return weaviate.connect_to_local(
        host="127.0.0.1",
        port=http_port or settings.weaviate_http_port,
        grpc_port=grpc_port or settings.weaviate_grpc_port,
        skip_init_checks=True,
    )


def collection_embedding_model(description: str | None) -> str | None:
    """The embedding model recorded in a collection description written by :meth:`KnowledgeStore.ensure_collection`."""
    if not description or not description.startswith(_META_PREFIX):
        return None
    try:
        return json.loads(description.removeprefix(_META_PREFIX)).get("embedding_model")
    except ValueError:
        return None


def collection_name(name: str) -> str:
    """A valid Weaviate collection name as Weaviate stores it (first letter capitalised); ValueError otherwise.

    Weaviate takes ASCII letters, digits and _ only, at most 255 characters (``str.isalnum`` also passes
    letters such as Ω or ², which Weaviate refuses with a bare HTTP 422)."""
    if not isinstance(name, str):  # an API payload arrives unconverted
        raise ValueError(f"A collection name is text, got {type(name).__name__}")
    if not name or not _COLLECTION_NAME.fullmatch(name):
        raise ValueError("Collection names start with a letter (A-Z) and hold only letters, digits and _, "
                         f"got {name[:60]!r}{'…' if len(name) > 60 else ''}")
    if len(name) > MAX_COLLECTION_NAME:
        raise ValueError(f"Collection names are at most {MAX_COLLECTION_NAME} characters long, got {len(name)}")
    return name[0].upper() + name[1:]


class KnowledgeStore:
    """Chunks of the user's documents in one Weaviate collection, vectors supplied by ``embedder``."""

    def __init__(self, client, collection: str, embedder: Embedder, journal_dir: Path | None = None) -> None:
        """``journal_dir``: where the write-ahead journal lives (see the module's docstring); None: no journal."""
        self.client = client
        self.name = collection_name(collection)
        self.embedder = embedder
        self.journal = journal_dir / f"{self.name}.json" if journal_dir is not None else None

    @property
    def collection(self):
        return self.client.collections.use(self.name)

    def ensure_collection(self) -> None:
        """Create the collection if missing; refuse one built with another embedding model.

        Replicas starting together race here: each sees no collection and creates it, and Weaviate refuses all
        but the first. A refused create after which the collection exists is that race: the collection another
        replica made is checked like any existing one."""
        if self.client.collections.exists(self.name):
            self._check_embedding_model()
            return
        try:
            self._create()
        except Exception:  # Weaviate's 422 "already exists", whatever type the client gives it
            if not self.client.collections.exists(self.name):
                raise
            log.info("collection %s was created by another process meanwhile", self.name)
            self._check_embedding_model()

    def _check_embedding_model(self) -> None:
        recorded = collection_embedding_model(self.collection.config.get().description)
        if recorded and recorded != self.embedder.name:
            raise EmbeddingMismatchError(
                f"Collection {self.name} was embedded with {recorded!r}, but the app embeds with "
                f"{self.embedder.name!r}: its vectors would not compare. Set ARENA_EMBEDDING_MODEL={recorded} "
                "or ingest into a new collection."
            )

    def _create(self) -> None:
        meta = {"embedding_model": self.embedder.name, "dimensions": self.embedder.dimensions}
        self.client.collections.create(
            self.name,
            description=_META_PREFIX + json.dumps(meta),
            vector_config=Configure.Vectors.self_provided(),
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="source", data_type=DataType.TEXT, skip_vectorization=True),
                Property(name="doc_type", data_type=DataType.TEXT, skip_vectorization=True),
                Property(name="heading", data_type=DataType.TEXT),
                Property(name="page", data_type=DataType.INT),
                Property(name="chunk_index", data_type=DataType.INT),
                Property(name="char_start", data_type=DataType.INT),
                Property(name="content_hash", data_type=DataType.TEXT, skip_vectorization=True),
                Property(name="doc_bytes", data_type=DataType.INT),
                Property(name="added_at", data_type=DataType.DATE),
            ],
        )

    def count(self) -> int:
        return self.collection.aggregate.over_all(total_count=True).total_count or 0

    def _uuids_of(self, source: str) -> set[str]:
        result = self.collection.query.fetch_objects(
            filters=Filter.by_property("source").equal(source), limit=MAX_CHUNKS_PER_DOCUMENT, return_properties=[]
        )
        return {str(obj.uuid) for obj in result.objects}

    def _write(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], meta: DocumentMeta,
               added_at: datetime) -> None:
        """Synchronous gRPC batches: the background batcher sleeps about a second per flush, per document."""
        objects = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            properties = {
                "text": chunk.text,
                "source": chunk.source,
                "doc_type": meta.doc_type,
                "heading": chunk.heading,
                "chunk_index": chunk.chunk_index,
                "char_start": chunk.char_start,
                "content_hash": chunk.content_hash,
                "doc_bytes": meta.size_bytes,
                "added_at": added_at,
            }
            if chunk.page is not None:
                properties["page"] = chunk.page
            objects.append(DataObject(properties=properties, vector=list(vector),
                                      uuid=generate_uuid5(chunk.content_hash)))
        for start in range(0, len(objects), INSERT_BATCH):
            result = self.collection.data.insert_many(objects[start : start + INSERT_BATCH])
            if result.has_errors:
                first = next(iter(result.errors.values()))
                raise RetrievalError(f"{len(result.errors)} chunks were not stored: {first.message}")

    def replace_documents(
        self, documents: Sequence[tuple[DocumentMeta, Sequence[Chunk]]], on_progress: ProgressCallback | None = None
    ) -> dict[str, int | Exception]:
        """Store each document's chunks (upsert by content hash), then drop chunks of its previous version.

        Chunks already stored are not embedded again; the new ones of every document are embedded
        together in batches (ingestion is bound by the embedder, not by per-file round trips).
        Returns, per document, its chunk count now, or the exception that kept its previous version.
        """
        self.recover()  # a batch a crash interrupted is settled before "previous" is read again
        outcome: dict[str, int | Exception] = {}
        plans: list[tuple[DocumentMeta, dict[str, Chunk], set[str], list[Chunk]]] = []
        for meta, chunks in documents:
            if not chunks:
                outcome[meta.name] = ValueError("no text to store")
                continue
            if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
                outcome[meta.name] = ValueError(f"{len(chunks)} chunks; the limit is {MAX_CHUNKS_PER_DOCUMENT}")
                continue
            previous = self._uuids_of(meta.name)
            wanted = {str(generate_uuid5(c.content_hash)): c for c in chunks}
            plans.append((meta, wanted, previous, [c for u, c in wanted.items() if u not in previous]))
        texts = [chunk.text for *_, new in plans for chunk in new]
        vectors = self.embedder.embed(texts, on_progress=on_progress) if texts else []
        self._write_journal([{"source": meta.name, "wanted": sorted(wanted), "previous": sorted(previous)}
                             for meta, wanted, previous, _ in plans])
        offset = 0
        for meta, wanted, previous, new in plans:
            doc_vectors, offset = vectors[offset : offset + len(new)], offset + len(new)
            try:
                if new:
                    self._write(new, doc_vectors, meta, datetime.now(UTC))
                self._delete_uuids(previous - set(wanted))
                outcome[meta.name] = len(wanted)
            except Exception as exc:  # nothing partial: back to the previous version
                log.exception("storing %s failed", meta.name)
                self._delete_uuids({str(generate_uuid5(c.content_hash)) for c in new} - previous)
                outcome[meta.name] = exc
        if self.journal is not None:
            self.journal.unlink(missing_ok=True)
        return outcome

    def _write_journal(self, entries: list[dict]) -> None:
        """Record a batch's chunk ids before its first write; atomic (a temporary file renamed), and synced."""
        if self.journal is None or not entries:
            return
        write_text_atomically(self.journal, json.dumps(entries))

    def recover(self) -> int:
        """Settle the batch a crash left half-written (see the module's docstring); returns the documents settled."""
        if self.journal is None or not self.journal.is_file():
            return 0
        entries = json.loads(self.journal.read_text())
        for entry in entries:
            wanted, previous = set(entry["wanted"]), set(entry["previous"])
            if self._stored(wanted) == wanted:  # written in full: finish the replacement
                self._delete_uuids(previous - wanted)
            else:  # cut short: back to the previous version (its chunks were never touched)
                self._delete_uuids(wanted - previous)
        self.journal.unlink()
        log.warning("%s: settled %d documents of an ingestion that was interrupted", self.name, len(entries))
        return len(entries)

    def _stored(self, uuids: set[str]) -> set[str]:
        """Which of these chunk ids the collection holds."""
        if not uuids:
            return set()
        result = self.collection.query.fetch_objects(filters=Filter.by_id().contains_any(sorted(uuids)),
                                                     limit=len(uuids), return_properties=[])
        return {str(obj.uuid) for obj in result.objects}

    def _delete_uuids(self, uuids: set[str]) -> None:
        if uuids:
            self.collection.data.delete_many(where=Filter.by_id().contains_any(sorted(uuids)))

    def delete_document(self, source: str) -> int:
        """Delete every chunk of one document; returns how many were deleted."""
        result = self.collection.data.delete_many(where=Filter.by_property("source").equal(source))
        return int(result.successful)

    def clear(self) -> None:
        """Delete every document (the collection is recreated empty, with the same embedding model)."""
        if self.client.collections.exists(self.name):
            self.client.collections.delete(self.name)
        self.ensure_collection()

    def documents(self) -> list[DocumentMeta]:
        """One entry per document: type, size, chunk count and when it was (last) added."""
        grouped = self.collection.aggregate.over_all(group_by=GroupByAggregate(prop="source", limit=10_000),
                                                     total_count=True)
        counts = {str(group.grouped_by.value): group.total_count or 0 for group in grouped.groups}
        docs = []
        for source, count in sorted(counts.items()):
            first = self.collection.query.fetch_objects(
                filters=Filter.by_property("source").equal(source), limit=1,
                return_properties=["doc_type", "doc_bytes", "added_at"],
            ).objects
            props = first[0].properties if first else {}
            docs.append(DocumentMeta(source, str(props.get("doc_type") or ""), int(props.get("doc_bytes") or 0),
                                     props.get("added_at"), count))
        return docs

    def _is_live(self) -> bool:
        """A fast check first: the client's own gRPC retries would wait about a minute on a dead server."""
        try:
            return bool(self.client.is_live())
        except Exception:  # connection refused, timeouts
            return False

    def hybrid_search(self, query: str, top_k: int, alpha: float,
                      sources: Sequence[str] | None = None) -> list[RetrievedChunk]:
        """Hybrid BM25 + vector search, optionally only within the named documents."""
        if not self._is_live():
            raise RetrievalError("Weaviate is unreachable: the vector store did not answer its liveness check.")
        filters = Filter.by_property("source").contains_any(list(sources)) if sources else None
        try:
            vector = self.embedder.embed([query])[0]
            result = self.collection.query.hybrid(
                query=query, vector=vector, alpha=alpha, limit=top_k, filters=filters,
                return_metadata=MetadataQuery(score=True),
            )
        except Exception as exc:  # the client raises several types for a server that is down
            raise RetrievalError(f"Weaviate is unreachable or failed: {type(exc).__name__}: {exc}") from exc
        return [
            RetrievedChunk(
                text=obj.properties["text"],
                source=obj.properties["source"],
                chunk_index=int(obj.properties.get("chunk_index") or 0),
                score=float(obj.metadata.score or 0.0),
                rank=rank,
                heading=str(obj.properties.get("heading") or ""),
                page=int(obj.properties["page"]) if obj.properties.get("page") is not None else None,
            )
            for rank, obj in enumerate(result.objects, start=1)
        ]

    def neighbours(self, hits: Sequence[RetrievedChunk]) -> dict[tuple[str, int], str]:
        """Text of the chunks just before and after each hit, ``(source, chunk_index) -> text``, in one query."""
        wanted = {(hit.source, hit.chunk_index + step) for hit in hits for step in (-1, 1)}
        if not wanted:
            return {}
        result = self.collection.query.fetch_objects(
            filters=Filter.any_of([Filter.by_property("source").equal(source)
                                   & Filter.by_property("chunk_index").equal(index) for source, index in wanted]),
            limit=len(wanted), return_properties=["text", "source", "chunk_index"],
        )
        return {(str(obj.properties["source"]), int(obj.properties["chunk_index"])): str(obj.properties["text"])
                for obj in result.objects}
