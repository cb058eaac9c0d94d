"""Split documents into overlapping chunks that keep their Markdown heading.

Example::

    chunks = chunk_document("guide.md", text, words=120, overlap=30)
    chunks[0].heading, chunks[0].text
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, with enough metadata to cite it and to deduplicate it."""

    source: str
    chunk_index: int
    heading: str
    text: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.source}\n{self.text}".encode()).hexdigest()


def _sections(text: str, is_markdown: bool) -> list[tuple[str, str]]:
    """(heading, body) pairs; plain text is one section with no heading."""
    if not is_markdown:
        return [("", text)]
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append((match.group(2), []))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines)) for heading, lines in sections if "\n".join(lines).strip()]


def _windows(words: list[str], size: int, overlap: int) -> list[list[str]]:
    if len(words) <= size:
        return [words]
    step = size - overlap
    windows = []
    for start in range(0, len(words), step):
        windows.append(words[start : start + size])
        if start + size >= len(words):
            break
    return windows


def chunk_document(source: str, text: str, *, words: int = 120, overlap: int = 30) -> list[Chunk]:
    """Chunk one document by words with overlap; Markdown sections never share a chunk."""
    if overlap >= words:
        raise ValueError(f"overlap ({overlap}) must be smaller than the chunk size ({words})")
    is_markdown = source.lower().endswith((".md", ".markdown"))
    chunks: list[Chunk] = []
    for heading, body in _sections(text, is_markdown):
        for window in _windows(body.split(), words, overlap):
            if not window:
                continue
            body_text = " ".join(window)
            chunk_text = f"{heading}\n{body_text}" if heading else body_text
            chunks.append(Chunk(source, len(chunks), heading, chunk_text))
    return chunks
