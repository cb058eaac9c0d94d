"""Training pairs written by a language model: a question each passage answers, and its answer from the passage.

The template generator (``training.examples.build_examples``) works offline with no model; this one
reads each chunk like a person writing a quiz, so the questions sound like users' questions.
Two short steps per chunk, each batched over chunks: write a question about the passage,
then answer it from the passage. Pairs without a real question or answer are dropped and
counted; duplicates (same question) are kept once.

Example::

    report = generate_pairs(Path("data/documents/Docs"), LocalChatModel(backend))
    report.examples[0]   # Example(question="How long does the T4 battery last?", answer="31 months ...")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.common.documents import document_files
from pipelines.generation.chat_models import ChatModel, Messages
from pipelines.knowledge.chunking import Chunker
from pipelines.knowledge.readers import read_document
from pipelines.training.config import Example

QUESTION_PROMPT = ("Passage:\n{passage}\n\nWrite one question that a customer could ask and that this passage "
                   "answers. Reply with the question only.")
ANSWER_PROMPT = "Passage:\n{passage}\n\nUsing the passage, answer in one sentence: {question}"
MIN_QUESTION_WORDS = 4
_LIST_OR_LABEL = re.compile(r"^\s*(?:(?:\d+[.)]|[-*•]|(?:q|a|question|answer)\s*[:.-])\s*)+", re.IGNORECASE)


@dataclass
class PairReport:
    examples: list[Example] = field(default_factory=list)
    chunks: int = 0
    dropped: list[str] = field(default_factory=list)  # why each dropped chunk gave no pair

    def summary(self) -> str:
        return (f"{len(self.examples)} pairs written by the model from {self.chunks} passages"
                + (f"; {len(self.dropped)} dropped ({self.dropped[0]}{', …' if len(self.dropped) > 1 else ''})"
                   if self.dropped else ""))


def first_question(reply: str) -> str | None:
    """The first sentence of the reply that ends in a question mark, without list or label prefixes."""
    for line in reply.splitlines():
        line = _LIST_OR_LABEL.sub("", line).strip()
        if "?" in line:
            question = line[: line.index("?") + 1].strip(" \"'")
            return question if len(question.split()) >= MIN_QUESTION_WORDS else None
    return None


def _passages(docs_dir: Path, words: int) -> list[tuple[str, str]]:
    passages = []
    for path in document_files(docs_dir):
        for chunk in Chunker(words, 0).chunk(read_document(path.name, path.read_bytes())):
            if len(chunk.text.split()) >= 8:  # a heading alone asks nothing
                passages.append((path.name, chunk.text))
    return passages


def generate_pairs(docs_dir: Path, model: ChatModel, *, words: int = 80, batch_size: int = 8,
                   max_new_tokens: int = 48, progress: Callable[[float, str], None] | None = None) -> PairReport:
    """Ask ``model`` for one question per passage of the documents in ``docs_dir``, then for its answer."""
    passages = _passages(docs_dir, words)
    report = PairReport(chunks=len(passages))
    seen: set[str] = set()
    for start in range(0, len(passages), batch_size):
        batch = passages[start : start + batch_size]
        if progress:
            progress(start / max(len(passages), 1), f"passages {start + 1}–{start + len(batch)} of {len(passages)}")
        asks: list[Messages] = [[{"role": "user", "content": QUESTION_PROMPT.format(passage=text)}]
                                for _, text in batch]
        questions = [first_question(reply) for reply in model.complete(asks, max_new_tokens)]
        answerable = [(source, text, q) for (source, text), q in zip(batch, questions, strict=True) if q]
        report.dropped += [f"{source}: no question in the reply"
                           for (source, _), q in zip(batch, questions, strict=True) if not q]
        if not answerable:
            continue
        answers = model.complete(
            [[{"role": "user", "content": ANSWER_PROMPT.format(passage=text, question=q)}]
             for _, text, q in answerable],
            max_new_tokens,
        )
        for (source, _, question), answer in zip(answerable, answers, strict=True):
            key = question.lower()
            if not answer or key in seen:
                report.dropped.append(f"{source}: {'empty answer' if not answer else 'duplicate question'}")
                continue
            seen.add(key)
            report.examples.append(Example(question, answer, f"llm:{source}"))
    if progress:
        progress(1.0, "done")
    return report
