"""Prompt text shared by inference and training, so an adapter sees at run time what it learned on.

The RAG reader's choices (prompt form, how many passages, trimming) are a :class:`ReaderOptions`, picked
by key-fact accuracy on the dev set with ``bench/answer_quality.py`` (never on the test set); the
numbers are in docs/evaluation.md. Passages keep the rank ``[n]`` the context panel shows, so a citation in
the answer points at the panel.

Example::

    reader = ReaderOptions(form="context-qa", passages=1)
    messages = rag_messages("How heavy is the T4?", chunks, history=[], reader=reader)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pipelines.common.events import RetrievedChunk
from pipelines.common.text import split_sentences

ASSISTANT_SYSTEM = "You are a helpful assistant that answers questions about the user's documents."
PromptForm = Literal["context-qa", "instruct"]
PassagePick = Literal["rank", "overlap"]
CopyMode = Literal["off", "words", "spans"]
AbstainMode = Literal["off", "user", "system"]
#: What the RAG reader is told to answer when its context does not hold the answer (``ReaderOptions.abstain``);
#: :mod:`pipelines.common.abstention` reads it as declining.
ABSTAIN_ANSWER = "The documents do not say."
ABSTAIN_INSTRUCTION = f'If the context does not answer the question, say "{ABSTAIN_ANSWER}"'
_WORD = re.compile(r"[a-z0-9]+")
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
                   "were", "does", "do", "did", "the", "a", "an", "of", "in", "on", "at", "to", "for", "and", "or",
                   "many", "much", "long", "by", "with", "from", "it", "its", "be", "can", "has", "have", "that"}


@dataclass(frozen=True)
class ReaderOptions:
    """How the RAG columns put passages in front of the model.

    ``form``: ``context-qa`` (``Context: ... Question: ... Answer:``, what small models read best) or
    ``instruct`` (numbered passages and an instruction); ``passages``: how many of the retrieved
    passages go into the prompt (the panel shows them all); ``trim``: keep only the sentences that
    share words with the question, plus this many neighbours each side (0: whole passages); ``pick``: which
    retrieved passages go in, the top ``passages`` by rank, or those sharing the most of the question's words
    (ties by rank; they keep their panel numbers either way); ``copy``: ``words``, the answer may use only
    words of the question and the passages in the prompt, ``spans``, and copies numbers and names whole
    (:mod:`pipelines.generation.copy_rule`; local backend), ``off``: any token; ``abstain``: tell the model it may
    answer :data:`ABSTAIN_ANSWER` when the context does not hold the answer, in the user turn (``user``, just
    before ``Answer:``) or the system prompt (``system``); the copy rule then allows that sentence too.
    """

    form: PromptForm = "context-qa"
    passages: int = 1
    trim: int = 0
    system: bool = True
    pick: PassagePick = "rank"
    copy: CopyMode = "spans"
    abstain: AbstainMode = "off"

    def __post_init__(self) -> None:
        if self.form not in ("context-qa", "instruct"):
            raise ValueError(f"Unknown reader prompt form {self.form!r}: use context-qa or instruct")
        if self.copy not in ("off", "words", "spans"):
            raise ValueError(f"Unknown copy rule {self.copy!r}: use off, words or spans")
        if self.pick not in ("rank", "overlap"):
            raise ValueError(f"Unknown passage pick {self.pick!r}: use rank or overlap")
        if self.abstain not in ("off", "user", "system"):
            raise ValueError(f"Unknown abstain mode {self.abstain!r}: use off, user or system")
        if self.abstain == "system" and not self.system:
            raise ValueError("abstain=system tells the model through the system prompt, which is off: use abstain=user")
        if self.passages < 1 or self.trim < 0:
            raise ValueError("The reader needs at least one passage and a trim of 0 or more sentences")


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _QUESTION_WORDS and len(w) > 1}


def trim_passage(text: str, question: str, neighbours: int) -> str:
    """The sentences of ``text`` that share a word with the question, each with ``neighbours`` around it,
    in their order; the whole text when no sentence matches (better too much than nothing)."""
    sentences = split_sentences(text)
    terms = _terms(question)
    hits = [i for i, sentence in enumerate(sentences) if terms & _terms(sentence)]
    if not hits:
        return text
    keep = sorted({j for i in hits for j in range(i - neighbours, i + neighbours + 1) if 0 <= j < len(sentences)})
    return " ".join(sentences[j] for j in keep)


def passages_for(question: str, chunks: list[RetrievedChunk], reader: ReaderOptions) -> list[tuple[int, str]]:
    """(rank, text) of the passages the prompt holds: the first ``reader.passages``, trimmed if asked."""
    chosen = chunks[: reader.passages]
    if reader.pick == "overlap":
        terms = _terms(question)
        best = sorted(chunks, key=lambda c: (-len(terms & _terms(c.text)), c.rank))[: reader.passages]
        chosen = sorted(best, key=lambda c: c.rank)
    return [(c.rank, trim_passage(c.text, question, reader.trim) if reader.trim else c.text) for c in chosen]


def rag_user_text(question: str, passages: list[tuple[int, str]], form: PromptForm, abstain: bool = False) -> str:
    """The user turn of a RAG prompt (also the reading recipe's training prompt); ``abstain`` adds
    :data:`ABSTAIN_INSTRUCTION` after the question."""
    context = "\n".join(f"[{rank}] {text}" for rank, text in passages)
    allow = f"\n{ABSTAIN_INSTRUCTION}." if abstain else ""
    if form == "context-qa":
        return f"Context:\n{context}\n\nQuestion: {question}{allow}\nAnswer:"
    return f"Passages:\n{context}\n\nUsing the passages, answer in one sentence: {question}{allow}"


def copy_source(question: str, passages: list[tuple[int, str]], reader: ReaderOptions) -> str | None:
    """The text the copy rule lets the answer use (None: the rule is off): the question and the passages in
    the prompt, and the abstain answer when the reader may decline."""
    if reader.copy == "off":
        return None
    allowed = [question, *(text for _rank, text in passages)]
    return "\n".join([*allowed, ABSTAIN_ANSWER] if reader.abstain != "off" else allowed)


def rag_messages(question: str, chunks: list[RetrievedChunk], history: list[dict[str, str]],
                 reader: ReaderOptions | None = None) -> list[dict[str, str]]:
    reader = reader or ReaderOptions()
    return passage_messages(question, passages_for(question, chunks, reader), history, reader)


def passage_messages(question: str, passages: list[tuple[int, str]], history: list[dict[str, str]],
                     reader: ReaderOptions) -> list[dict[str, str]]:
    """The RAG chat for passages already chosen by :func:`passages_for` (the RAG column reuses its choice)."""
    user = rag_user_text(question, passages, reader.form, abstain=reader.abstain == "user")
    system_text = f"{ASSISTANT_SYSTEM} {ABSTAIN_INSTRUCTION}." if reader.abstain == "system" else ASSISTANT_SYSTEM
    system = [{"role": "system", "content": system_text}] if reader.system else []
    return [*system, *history, {"role": "user", "content": user}]


def plain_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": ASSISTANT_SYSTEM}, *history, {"role": "user", "content": question}]
