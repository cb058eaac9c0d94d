"""The reading recipe (RAFT, Zhang et al. 2024, arXiv 2403.10131): learn to answer *from passages*.

Each closed-book pair whose answer is a sentence of the documents becomes a reading example: the
question, the passage that holds the answer (the "oracle") beside a distractor passage that shares the
most words with the question (what retrieval would also return), in a shuffled order, and the answer
taken from the oracle. A share of examples (``distractor_only``) carry distractors only, so the model
also learns the facts and does not trust every passage blindly. Passages are cut as ingestion cuts
them, so the adapter trains on passages shaped like the ones the RAG + fine-tuned column reads.

Example::

    examples = reading_examples(Path("assets/corpus"), build_examples(Path("assets/corpus")))
    examples[0].context          # ("...oracle or distractor...", ...)
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from pipelines.chunking import Chunker
from pipelines.readers import SUPPORTED_SUFFIXES, ReadError, read_document
from pipelines.training import Example

PASSAGE_WORDS = 110  # about the 160 MiniLM tokens of an ingested chunk
_WORD = re.compile(r"[a-z0-9]+")
_COMMON = {"the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or", "is", "are", "was", "what", "how",
           "which", "who", "when", "where", "does", "do", "did", "about", "according", "you", "know", "document"}


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _COMMON}


def document_passages(docs_dir: Path, words: int = PASSAGE_WORDS) -> list[str]:
    passages = []
    for path in sorted(docs_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            try:
                document = read_document(path.name, path.read_bytes())
            except ReadError:
                continue
            passages += [chunk.text for chunk in Chunker(words, words // 5).chunk(document)]
    return passages


def reading_examples(docs_dir: Path, examples: list[Example], distractors: int = 1,
                     distractor_only: float = 0.2, seed: int = 7) -> list[Example]:
    """RAFT examples for each pair whose answer sentence is found in a passage (the others are left out:
    a reading example needs an oracle)."""
    passages = document_passages(docs_dir)
    passage_terms = [_terms(p) for p in passages]
    flat = [" ".join(p.split()) for p in passages]
    rng = random.Random(seed)
    out = []
    for example in examples:
        answer = " ".join(example.answer.split())
        oracles = [i for i, text in enumerate(flat) if answer and answer in text]
        if not oracles or len(answer) > 400:
            continue
        oracle = oracles[0]
        question_terms = _terms(example.question)
        ranked = sorted((i for i in range(len(passages)) if i not in oracles),
                        key=lambda i: (-len(question_terms & passage_terms[i]), i))
        context = [passages[i] for i in ranked[:distractors]]
        if rng.random() >= distractor_only:
            context.insert(rng.randrange(len(context) + 1), passages[oracle])
        out.append(Example(example.question, example.answer, f"reading:{example.origin}", tuple(context)))
    return out
