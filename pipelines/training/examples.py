"""Training pairs from a folder of documents and a question set: what a training run learns from, built without
the model. Kept apart from :mod:`pipelines.training.sft` (which imports transformers, peft and torch) so the
app's Fine-tune tab can count and preview pairs without loading the training stack at start (~4 s of CPU per
process).

Usage::

    examples = build_examples(Path("assets/corpus"), Path("assets/questions.jsonl"))
    pairs_per_document(examples)  # {"case_study_kelvarra.md": 22, ..., "question set": 15, "travel_policy.txt": 17}
    data_hash(examples)           # the pairs' digest, written into the adapter's metadata
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

from pipelines.common.documents import document_files
from pipelines.common.questions import load_questions
from pipelines.knowledge.readers import ReadError, read_document
from pipelines.training.config import RECIPES, Example
from pipelines.training.fact_pairs import document_pairs
from pipelines.training.reading_pairs import reading_examples

log = logging.getLogger(__name__)


def build_examples(docs_dir: Path, questions_file: Path | None = None, split: str = "train",
                   recipe: str = "closed-book", reading_passages: int = 1) -> list[Example]:
    """Training pairs from the documents plus the reference pairs of the given split (answerable questions
    only), deduplicated.

    ``closed-book``: every chunk and every fact sentence in several question forms
    (:mod:`pipelines.training.fact_pairs`), for the fine-tuned column; ``reading``: the same questions, each with
    passages to read (:mod:`pipelines.training.reading_pairs`, RAFT-style), for the RAG + fine-tuned column;
    ``both`` (the default): the two together, because one adapter serves both columns. A closed-book-only
    adapter measured 0 of 12 in the RAG + fine-tuned column on the sample test split (it echoed the
    question or a passage's heading), where the base model read 3 of 12 right. Reading pairs: one per answer
    sentence (:func:`reading_sources`), each with ``reading_passages`` passages (the RAG prompt's count).
    """
    if recipe not in RECIPES:
        raise ValueError(f"Unknown training recipe {recipe!r}: use one of {', '.join(RECIPES)}")
    examples: list[Example] = []
    documents = []  # parsed once: the fact pairs and the reading recipe's passages both read them
    for path in document_files(docs_dir):
        try:
            document = read_document(path.name, path.read_bytes())
        except ReadError as exc:
            log.warning("%s left out of the training pairs: %s", path.name, exc)
            continue
        documents.append(document)
        examples += [Example(p.question, p.answer, f"{p.form}:{p.origin}")
                     for p in document_pairs(path.name, document)]
    if questions_file and questions_file.exists():
        for number, item in enumerate(load_questions(questions_file, require_reference=True), start=1):
            # A dev or test question is never trained on, nor an out-of-corpus one whatever its split: it measures
            # made-up answers, and an adapter taught its "the documents do not say" would no longer be measured.
            if item.in_split(split) and item.answerable:
                examples.append(Example(item.question, item.reference, f"reference:{item.id or number}"))
    unique: dict[tuple[str, str], Example] = {}
    for example in examples:
        if example.question.strip() and example.answer.strip():
            unique.setdefault((example.question.strip().lower(), example.answer.strip().lower()), example)
    examples = list(unique.values())
    if recipe in ("reading", "both"):
        reading = reading_examples(documents, reading_sources(examples), passages=reading_passages)
        examples = reading if recipe == "reading" else examples + reading
    return examples


def reading_sources(examples: list[Example]) -> list[Example]:
    """The closed-book pairs that become reading pairs: the first question of each answer sentence, not the chunk
    recitals. Reading is practised, not memorised: one question per fact is enough to read it from its passage
    (the closed-book pairs keep every phrasing), and a recital's answer is a whole chunk, which the RAG +
    fine-tuned column never gives (its answers end after one sentence)."""
    seen: set[str] = set()
    chosen = []
    for example in examples:
        answer = " ".join(example.answer.split()).lower()
        if example.origin.startswith("recital:") or answer in seen:
            continue
        seen.add(answer)
        chosen.append(example)
    return chosen


def pairs_per_document(examples: list[Example]) -> dict[str, int]:
    """How many pairs each document gave (origins look like ``cloze:travel_policy.txt@s3``)."""
    counts: dict[str, int] = {}
    for example in examples:
        *kinds, where = example.origin.split(":")  # "reading:cloze:travel_policy.txt@s3"
        document = "question set" if "reference" in kinds else re.split(r"[#@]", where, maxsplit=1)[0]
        counts[document] = counts.get(document, 0) + 1
    return dict(sorted(counts.items()))


def data_hash(examples: list[Example]) -> str:
    payload = json.dumps([(e.question, e.answer, *e.context) for e in examples], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
