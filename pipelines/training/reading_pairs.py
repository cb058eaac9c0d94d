"""The reading recipe (RAFT, Zhang et al. 2024, arXiv 2403.10131): learn to answer *from passages*.

Each closed-book pair whose answer is a sentence of the documents becomes a reading example: the
question, ``passages`` passages in the RAG prompt's form, and the answer taken from the passage that holds
it (the "oracle"). With one passage (the RAG prompt's default, ``ARENA_READER_PASSAGES``) that is the oracle;
with more, the oracle sits among distractors that share the most words with the question (what retrieval
would also return), in a shuffled order. A share of examples (``distractor_only``) carry distractors only,
so the model also learns the facts and does not trust every passage blindly (as the column meets when the
top hit misses). Passages are cut as ingestion cuts them, so the adapter trains on passages shaped like
the ones the RAG + fine-tuned column reads.

Example::

    documents = [read_document(p.name, p.read_bytes()) for p in document_files(Path("assets/corpus"))]
    examples = reading_examples(documents, build_examples(Path("assets/corpus")))
    examples[0].context          # ("...oracle or distractor...", ...)
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from pipelines.knowledge.chunking import Chunker
from pipelines.knowledge.readers import ParsedDocument

# A training pair (``pipelines.training.config.Example``): a dataclass with question, answer, origin and context.
# Typed by a variable, not imported, so this module stays below the training module that calls it.
ExampleT = TypeVar("ExampleT")

PASSAGE_WORDS = 110  # about the 160 MiniLM tokens of an ingested chunk
_WORD = re.compile(r"[a-z0-9]+")
_COMMON = {"the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "is", "are", "was", "what", "how",
           "which", "who", "when", "where", "does", "do", "did", "about", "according", "you", "know", "document"}


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def document_passages(documents: Sequence[ParsedDocument], words: int = PASSAGE_WORDS) -> list[str]:
    chunker = Chunker(words, words // 5)
    return [chunk.text for document in documents for chunk in chunker.chunk(document)]


def reading_examples(documents: Sequence[ParsedDocument], examples: list[ExampleT], passages: int = 1,
                     distractor_only: float = 0.2, seed: int = 7) -> list[ExampleT]:
    """RAFT examples for each pair whose answer sentence is found in a passage of the (already parsed)
    documents; the others are left out: a reading example needs an oracle. ``passages``: how many the prompt
    shows (the oracle and ``passages - 1`` distractors; a distractor-only example shows ``max(1, passages - 1)``,
    as before this was a parameter)."""
    pool = document_passages(documents)
    passage_terms = [_terms(p) for p in pool]
    flat = [" ".join(p.split()) for p in pool]
    rng = random.Random(seed)
    out = []
    for example in examples:
        answer = " ".join(example.answer.split())
        oracles = [i for i, text in enumerate(flat) if answer and answer in text]
        if not oracles or len(answer) > 400:
            continue
        oracle = oracles[0]
        question_terms = _terms(example.question)
        ranked = sorted((i for i in range(len(pool)) if i not in oracles),
                        key=lambda i: (-len(question_terms & passage_terms[i]), i))
        context = [pool[i] for i in ranked[: max(1, passages - 1)]]
        if rng.random() >= distractor_only:
            context = context[: passages - 1]
            context.insert(rng.randrange(len(context) + 1), pool[oracle])
        out.append(replace(example, origin=f"reading:{example.origin}", context=tuple(context)))
    return out
