"""The readable documents of a folder: one walk shared by ingestion, training pairs and the reference set.

Three places read "the documents in this folder" (the sample corpus ingested at start-up, the training pairs
built from a collection's kept originals, the reference passages of the question set). They list the same files
in the same order because they share this walk: plain files directly inside the folder (no recursion), with a
suffix a reader handles (any case), hidden files (``.name``, e.g. macOS ``._guide.pdf`` or editor lock files)
left out, sorted by name so pairs, chunks and reports come out in a stable order.

Lowest layer on purpose (no reader imported): the suffix list lives here and ``knowledge.readers`` imports it,
so a format is added in one place (``tests/test_documents.py`` checks the readers cover exactly these suffixes).

Example::

    for path in document_files(Path("assets/corpus")):
        read_document(path.name, path.read_bytes())
"""

from __future__ import annotations

from pathlib import Path

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


def is_document(path: Path) -> bool:
    """Whether ``path`` is a file the walk lists: not hidden, a supported suffix, a file (links followed)."""
    return not path.name.startswith(".") and path.suffix.lower() in SUPPORTED_SUFFIXES and path.is_file()


def document_files(folder: Path) -> list[Path]:
    """The readable document files directly inside ``folder``, sorted by name.

    A missing folder raises ``FileNotFoundError`` (as ``Path.iterdir`` does): callers that accept one check first.
    """
    return sorted((path for path in folder.iterdir() if is_document(path)), key=lambda path: path.name)
