"""Split documents into overlapping token windows that keep their page or Markdown heading.

Windows are counted in the embedding model's own tokens (so a chunk never overflows what
the embedder reads) and cut from the original text by character offsets, so line breaks,
lists and tables survive into the context panel. Markdown-style text (Markdown, HTML, DOCX)
is split at headings first: a heading stays with its text and sections never share a chunk.

Example::

    chunker = Chunker(size=200, overlap=40, tokenizer=embedder.tokenizer())
    chunks = chunker.chunk(parsed_document)
    chunks[0].heading, chunks[0].page, chunks[0].text
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from pipelines.knowledge.readers import ParsedDocument, TextUnit

# A heading is one line ("#" and its text on the same line: a "#" alone followed by a line of text is no heading).
# Spaces only, never newlines, around the text: the old \s+ ... (.*\S)\s*$ backtracked quadratically on a long
# run of spaces (minutes for one line of a file).
_HEADING = re.compile(r"^(#{1,6})[^\S\n]+(\S(?:.*\S)?)[^\S\n]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_WORD = re.compile(r"\S+")

class Tokenizer(Protocol):
    """Character spans of the tokens of a text."""

    def spans(self, text: str) -> list[tuple[int, int]]: ...


class WordTokenizer:
    """Whitespace-separated words as tokens: no model needed (unit tests, training templates)."""

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


class HuggingFaceTokenizer:
    """The embedding model's fast tokenizer, so chunk sizes are what the embedder actually reads."""

    def __init__(self, tokenizer) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("chunking by tokens needs a fast (Rust) tokenizer that returns offsets")
        self.tokenizer = tokenizer

    def spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(start, end) for start, end in encoded["offset_mapping"] if end > start]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document, with enough metadata to cite it, show it in place and deduplicate it."""

    source: str
    chunk_index: int
    heading: str
    text: str
    page: int | None = None
    char_start: int = 0

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(f"{self.source}\n{self.text}".encode()).hexdigest()


def code_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced code block: from a ``` or ~~~ fence to a closing fence of the same character
    at least as long, or to the end of the text (CommonMark's rule for an unclosed fence)."""
    blocks: list[tuple[int, int]] = []
    opening: re.Match[str] | None = None
    for fence in _FENCE.finditer(text):
        if opening is None:
            opening = fence
        elif fence.group(1)[0] == opening.group(1)[0] and len(fence.group(1)) >= len(opening.group(1)):
            blocks.append((opening.start(), fence.end()))
            opening = None
    if opening is not None:
        blocks.append((opening.start(), len(text)))
    return blocks


def markdown_sections(text: str) -> list[tuple[str, int, str]]:
    """(heading, start offset, body) for each section of Markdown-style text; text before a heading has ''.

    A ``#`` line inside a fenced code block is code (a shell or Python comment), not a heading: read as one, it
    cut the block in two and labelled the chunks after it with the comment (Node.js's BUILDING.md, pip's docs)."""
    code = code_blocks(text)
    marks = [(m.start(), m.end(), m.group(2)) for m in _HEADING.finditer(text)
             if not any(start < m.start() < end for start, end in code)]
    sections: list[tuple[str, int, str]] = []
    starts = [(0, 0, ""), *marks]
    for position, (_, body_start, heading) in enumerate(starts):
        body_end = marks[position][0] if position < len(marks) else len(text)
        body = text[body_start:body_end]
        if body.strip():
            sections.append((heading, body_start, body))
    return sections


class Chunker:
    """Token windows with overlap, structure-aware for Markdown-style text.

    Example::

        Chunker(size=100, overlap=20).chunk_text("notes.txt", "some long text ...")
    """

    def __init__(self, size: int = 200, overlap: int = 40, tokenizer: Tokenizer | None = None) -> None:
        if size < 8:
            raise ValueError(f"chunk size must be at least 8 tokens, got {size}")
        if not 0 <= overlap < size:
            raise ValueError(f"overlap ({overlap}) must be at least 0 and smaller than the chunk size ({size})")
        self.size = size
        self.overlap = overlap
        self.tokenizer = tokenizer or WordTokenizer()

    def _windows(self, text: str) -> list[tuple[int, int]]:
        spans = self.tokenizer.spans(text)
        if not spans:
            return []
        windows = []
        step = self.size - self.overlap
        for start in range(0, len(spans), step):
            window = spans[start : start + self.size]
            windows.append((window[0][0], window[-1][1]))
            if start + self.size >= len(spans):
                break
        return windows

    def _unit_chunks(self, source: str, unit: TextUnit, markdown: bool, first_index: int) -> list[Chunk]:
        sections = markdown_sections(unit.text) if markdown else [("", 0, unit.text)]
        chunks: list[Chunk] = []
        for heading, offset, body in sections:
            for start, end in self._windows(body):
                piece = body[start:end].strip()
                text = f"{heading}\n{piece}" if heading else piece
                chunks.append(Chunk(source, first_index + len(chunks), heading, text, unit.page, offset + start))
        return chunks

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        """Every chunk of a parsed document, numbered in reading order across its pages."""
        chunks: list[Chunk] = []
        for unit in document.units:
            chunks += self._unit_chunks(document.name, unit, document.markdown, len(chunks))
        return chunks

    def chunk_text(self, source: str, text: str, *, markdown: bool | None = None) -> list[Chunk]:
        """Chunk raw text; Markdown structure is used for ``.md`` names unless ``markdown`` says otherwise."""
        if markdown is None:
            markdown = source.lower().endswith((".md", ".markdown"))
        return self._unit_chunks(source, TextUnit(text), markdown, 0)


def chunk_document(source: str, text: str, *, words: int = 120, overlap: int = 30) -> list[Chunk]:
    """Word-counted chunks of raw text (Markdown-aware by file name): training templates and quick use."""
    return Chunker(words, overlap).chunk_text(source, text)
