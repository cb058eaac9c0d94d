"""Property-based tests of the chunker, with the embedding model's own tokenizer (the one the knowledge base
chunks with; only the tokenizer files load, not the model), as invariants over generated text:

- chunks come in reading order, numbered 0..n-1;
- each chunk's offset is valid: the text at ``char_start`` is the chunk's text (less its heading line);
- no chunk holds more than ``size`` tokens of its document;
- every token of the text is in some chunk, except the heading lines the chunks carry as their heading;
- ids are stable: the same document gives the same chunks and content hashes; another source, other hashes.

Text is generated plain and Markdown-like (headings, lone and repeated ``#``, tabs, CR LF, no-break spaces,
long runs of spaces, words the tokenizer splits into pieces).

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_chunking.py --hypothesis-show-statistics
"""

from __future__ import annotations

import bisect
import re
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.knowledge.chunking import Chunk, Chunker, HuggingFaceTokenizer, WordTokenizer, markdown_sections
from pipelines.knowledge.embeddings import offline_minilm_folder


@pytest.fixture(scope="module")
def tokenizer() -> HuggingFaceTokenizer:
    """The offline embedder's fast tokenizer, as ``Embedder.tokenizer()`` gives it, without loading the model."""
    from transformers import AutoTokenizer

    return HuggingFaceTokenizer(AutoTokenizer.from_pretrained(str(offline_minilm_folder())))


PIECES = st.sampled_from(["#", "##", "###", "#######", "# ", "## Heading", "\n", "\r\n", "\n\n", " ", "  ", "\t",
                          "\u00a0", "word", "Lumenhollow", "unbelievably", "T4's", "31", "é", "日本", "-", "*", "|",
                          "\x00", "\u200b", "\ufeff", "🙂"])
TEXT = st.one_of(st.text(max_size=400), st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=120).map("".join))
SIZES = st.integers(8, 40).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1)))
HEADING_LINE = re.compile(r"#{1,6}[^\S\n]+\S")  # a Markdown heading: "#" to "######", a space, text on the line


def heading_line_at(text: str, position: int) -> bool:
    """Whether ``position`` lies on a heading line (written independently of the chunker's own pattern)."""
    start = text.rfind("\n", 0, position) + 1
    return HEADING_LINE.match(text, start) is not None


def check_invariants(chunks: list[Chunk], text: str, size: int, tokenizer, markdown: bool) -> None:
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    starts = [c.char_start for c in chunks]
    assert starts == sorted(starts), "chunks are in reading order"
    spans: list[tuple[int, int]] = []
    for chunk in chunks:
        piece = chunk.text.removeprefix(f"{chunk.heading}\n") if chunk.heading else chunk.text
        assert piece and 0 <= chunk.char_start <= len(text) - len(piece)
        assert text[chunk.char_start : chunk.char_start + len(piece)] == piece, "the offset points at the text"
        spans.append((chunk.char_start, chunk.char_start + len(piece)))
        if chunk.heading:
            assert markdown and "\n" not in chunk.heading and chunk.heading == chunk.heading.strip()
    tokens = tokenizer.spans(text)
    token_starts = [start for start, _ in tokens]
    for low, high in spans:
        inside = bisect.bisect_left(token_starts, high) - bisect.bisect_left(token_starts, low)
        assert inside <= size, f"a chunk holds {inside} tokens; the limit is {size}"
    for start, end in tokens:
        covered = any(low <= start and end <= high for low, high in spans)
        assert covered or (markdown and heading_line_at(text, start)), f"token {text[start:end]!r} is in no chunk"


@given(text=TEXT, sizes=SIZES, markdown=st.booleans())
@example(text="#\nFoo bar", sizes=(8, 0), markdown=True)  # a lone "#" made the next line a heading (and lost it)
@example(text="# Title\n\n\n## Sub\nbody words", sizes=(8, 2), markdown=True)
@example(text="word " * 100, sizes=(8, 7), markdown=False)
def test_chunks_cover_the_text_in_order_within_the_token_limit(text: str, sizes: tuple[int, int], markdown: bool,
                                                              tokenizer: HuggingFaceTokenizer) -> None:
    """The knowledge base's chunker (embedder tokens) keeps every invariant on any text, Markdown or not."""
    size, overlap = sizes
    chunks = Chunker(size, overlap, tokenizer).chunk_text("doc.md" if markdown else "doc.txt", text,
                                                         markdown=markdown)
    check_invariants(chunks, text, size, tokenizer, markdown)


@given(text=TEXT, sizes=SIZES, markdown=st.booleans())
def test_word_chunks_keep_the_same_invariants(text: str, sizes: tuple[int, int], markdown: bool) -> None:
    """The word-counting chunker (training templates) keeps them too."""
    size, overlap = sizes
    chunks = Chunker(size, overlap).chunk_text("doc.txt", text, markdown=markdown)
    check_invariants(chunks, text, size, WordTokenizer(), markdown)


@given(text=TEXT, sizes=SIZES, source=st.text(min_size=1, max_size=30), other=st.text(min_size=1, max_size=30))
def test_ids_are_stable_and_depend_on_source_and_text(text: str, sizes: tuple[int, int], source: str, other: str,
                                                     tokenizer: HuggingFaceTokenizer) -> None:
    """Ingesting the same document again gives the same chunks and ids (an upsert, not duplicates)."""
    chunker = Chunker(*sizes, tokenizer)
    first, again = chunker.chunk_text(source, text, markdown=True), chunker.chunk_text(source, text, markdown=True)
    assert first == again and [c.content_hash for c in first] == [c.content_hash for c in again]
    if source != other:
        moved = chunker.chunk_text(other, text, markdown=True)
        assert not {c.content_hash for c in first} & {c.content_hash for c in moved}
    for a in first:  # equal hashes only for equal text: the store deduplicates repeated passages
        assert all((a.content_hash == b.content_hash) == (a.text == b.text) for b in first)


@pytest.mark.parametrize("line", ["# " + " " * 100_000, "#" + " \t" * 100_000 + "\n" * 1000, "## x" + " " * 100_000])
def test_a_long_run_of_spaces_after_a_hash_is_split_in_linear_time(line: str) -> None:
    """Regression: the heading pattern backtracked quadratically (9 s for 32,000 spaces, minutes for more)."""
    started = time.perf_counter()
    sections = markdown_sections(line + "\nbody")
    assert time.perf_counter() - started < 5
    assert sections[-1][2].rstrip().endswith("body")
