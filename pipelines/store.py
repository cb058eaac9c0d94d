"""The knowledge store: document chunks in a Weaviate collection, searched with hybrid (BM25 + vector).

Example::

    store = KnowledgeStore(client, "Docs", embedder)
    store.ensure_collection()
    store.add_chunks(chunks)
    hits = store.hybrid_search("battery life of the T4", top_k=3, alpha=0.5)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.init import Auth
from weaviate.classes.query import MetadataQuery
from weaviate.util import generate_uuid5

from pipelines.chunking import Chunk
from pipelines.embeddings import Embedder
from pipelines.events import RetrievedChunk
from pipelines.settings import Settings

log = logging.getLogger(__name__)


class RetrievalError(RuntimeError):
    """Retrieval failed (for instance Weaviate is unreachable); the message is shown to the user."""


class Retriever(Protocol):
    """Anything that turns a question into ranked chunks: hybrid search, a reranker wrapping it, ..."""

    def run(self, query: str, top_k: int) -> list[RetrievedChunk]: ...


def connect(settings: Settings, http_port: int | None = None, grpc_port: int | None = None):
    """Connect to a remote Weaviate (``ARENA_WEAVIATE_URL``) or to the managed local one."""
    if settings.weaviate_url:
        auth = Auth.api_key(settings.weaviate_api_key) if settings.weaviate_api_key else None
        url = settings.weaviate_url.rstrip("/")
        if url.endswith((".weaviate.cloud", ".weaviate.network")) or "weaviate.cloud" in url:
            return weaviate.connect_to_weaviate_cloud(cluster_url=url, auth_credentials=auth)
        from urllib.parse import urlparse

        parsed = urlparse(url if "://" in url else f"http://{url}")
        secure = parsed.scheme == "https"
        return weaviate.connect_to_custom(
            http_host=parsed.hostname or "localhost",
            http_port=parsed.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=parsed.hostname or "localhost",
            grpc_port=settings.weaviate_grpc_port,
            grpc_secure=secure,
            auth_credentials=auth,
        )
    return weaviate.connect_to_local(
        host="127.0.0.1",
        port=http_port or settings.weaviate_http_port,
        grpc_port=grpc_port or settings.weaviate_grpc_port,
    )


class KnowledgeStore:
    """Chunks of the user's documents in one Weaviate collection, vectors supplied by ``embedder``."""

    def __init__(self, client, collection: str, embedder: Embedder) -> None:
        if not collection or not collection[0].isalpha():
            raise ValueError(f"Collection names must start with a letter, got {collection!r}")
        self.client = client
        self.name = collection
        self.embedder = embedder

    @property
    def collection(self):
        return self.client.collections.use(self.name)

    def ensure_collection(self) -> None:
        if self.client.collections.exists(self.name):
            return
        self.client.collections.create(
            self.name,
            description=f"Document chunks embedded with {self.embedder.name}",
            vector_config=Configure.Vectors.self_provided(),
            properties=[
                Property(name="text", data_type=DataType.TEXT),
                Property(name="source", data_type=DataType.TEXT, skip_vectorization=True),
                Property(name="heading", data_type=DataType.TEXT),
                Property(name="chunk_index", data_type=DataType.INT),
                Property(name="content_hash", data_type=DataType.TEXT, skip_vectorization=True),
            ],
        )

    def count(self) -> int:
        return self.collection.aggregate.over_all(total_count=True).total_count or 0

    def add_chunks(self, chunks: Sequence[Chunk]) -> int:
        """Upsert chunks, keyed by content hash so re-ingesting the same text adds nothing."""
        if not chunks:
            return 0
        vectors = self.embedder.embed([c.text for c in chunks])
        with self.collection.batch.fixed_size(batch_size=128) as batch:
            for chunk, vector in zip(chunks, vectors, strict=True):
                batch.add_object(
                    properties={
                        "text": chunk.text,
                        "source": chunk.source,
                        "heading": chunk.heading,
                        "chunk_index": chunk.chunk_index,
                        "content_hash": chunk.content_hash,
                    },
                    vector=vector,
                    uuid=generate_uuid5(chunk.content_hash),
                )
        failed = self.collection.batch.failed_objects
        if failed:
            raise RetrievalError(f"{len(failed)} chunks were not stored: {failed[0].message}")
        return len(chunks)

    def _is_live(self) -> bool:
        """A fast check first: the client's own gRPC retries would wait about a minute on a dead server."""
        try:
            return bool(self.client.is_live())
        except Exception:  # connection refused, timeouts
            return False

    def hybrid_search(self, query: str, top_k: int, alpha: float) -> list[RetrievedChunk]:
        if not self._is_live():
            raise RetrievalError("Weaviate is unreachable: the vector store did not answer its liveness check.")
        try:
            vector = self.embedder.embed([query])[0]
            result = self.collection.query.hybrid(
                query=query,
                vector=vector,
                alpha=alpha,
                limit=top_k,
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
            )
            for rank, obj in enumerate(result.objects, start=1)
        ]


class HybridRetriever:
    """Weaviate hybrid search as a :class:`Retriever` with fixed ``alpha``.

    Example::

        retriever = HybridRetriever(store, alpha=0.5)
        retriever.run("Who founded Lumenhollow?", top_k=3)
    """

    def __init__(self, store: KnowledgeStore, alpha: float = 0.5) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {alpha}")
        self.store = store
        self.alpha = alpha

    def run(self, query: str, top_k: int) -> list[RetrievedChunk]:
        return self.store.hybrid_search(query, top_k=top_k, alpha=self.alpha)
