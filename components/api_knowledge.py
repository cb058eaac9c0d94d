"""Public API: the knowledge base's collections and documents, ingestion and deletion."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from gradio.data_classes import FileData

from components.admin import require_admin
from components.api_files import upload_path
from pipelines.arena.api import whole_number
from pipelines.common.auth import AdminAuth
from pipelines.knowledge.base import KnowledgeBase


def knowledge_endpoints(knowledge: KnowledgeBase | None, auth: AdminAuth, unavailable: str = "") -> list[Callable]:
    """Endpoints over ``knowledge``; each refuses with ``unavailable`` when there is no knowledge base."""

    def base() -> KnowledgeBase:
        if knowledge is None:
            raise gr.Error(f"The knowledge base is unavailable: {unavailable or 'no vector store'}")
        return knowledge

    def collections() -> list[str]:
        """The Weaviate collections RAG can retrieve from; the default one first."""
        kb = base()
        return kb.collections() or [kb.default_collection]

    def documents(collection: str = "") -> list[dict]:
        """The documents of a collection, each with its type, size in bytes, chunk count and time added.

        Args:
            collection: the collection; empty for the default one.
        """
        try:
            return [{"document": d.name, "type": d.doc_type, "size_bytes": d.size_bytes, "chunks": d.chunks,
                     "added_at": d.added_at.isoformat() if d.added_at else None}
                    for d in base().documents(collection or None)]
        except ValueError as exc:  # KnowledgeError, or a collection name Weaviate refuses
            raise gr.Error(str(exc)) from exc

    def ingest(admin_password: str, collection: str, files: list[FileData], chunk_tokens: int = 160,
               overlap_tokens: int = 32) -> dict:
        """Read, chunk, embed and store files (txt, md, html, pdf, docx, or a .zip of them) in a collection.

        Each file is stored whole or not at all; re-sending a file replaces its old chunks.

        Args:
            admin_password: the admin password ("" when none is set).
            collection: the collection to store into; empty for the default one.
            files: the files to ingest.
            chunk_tokens: chunk size in the embedding model's tokens.
            overlap_tokens: tokens shared by neighbouring chunks.

        Returns:
            files (name: chunks stored), refused (name: why) and the total chunk count.
        """
        require_admin(auth, admin_password)
        if not files or not isinstance(files, list):
            raise gr.Error("Send one or more files.")
        try:
            report = base().ingest_paths(collection or None, [upload_path(f) for f in files],
                                         chunk_size=whole_number("chunk_tokens", chunk_tokens),
                                         overlap=whole_number("overlap_tokens", overlap_tokens))
        except ValueError as exc:  # KnowledgeError, a bad collection name or number, a path that is no upload
            raise gr.Error(str(exc)) from exc
        return {"files": dict(report.files), "refused": dict(report.failed), "chunks": report.chunks}

    def delete_document(admin_password: str, collection: str, document: str) -> dict:
        """Delete one document and its chunks from a collection.

        Args:
            admin_password: the admin password ("" when none is set).
            collection: the collection; empty for the default one.
            document: the document's name, as documents lists it.

        Returns:
            the document and how many chunks were deleted.
        """
        require_admin(auth, admin_password)
        if not isinstance(document, str):
            raise gr.Error("document must be a document's name, as documents lists it.")
        try:
            deleted = base().delete_document(collection or None, document)
        except ValueError as exc:  # KnowledgeError, or a collection name Weaviate refuses
            raise gr.Error(str(exc)) from exc
        return {"document": document, "chunks_deleted": deleted}

    return [collections, documents, ingest, delete_document]
