"""Question sets: the sample set, an evaluation set, or one the user uploads, parsed in one place.

Accepted: JSONL with a ``question`` field per line, CSV with a ``question`` column, or plain text with
one question per line. Optional fields: the reference answer, named ``reference``, ``answer`` or
``ground_truth`` (the names ragas, SQuAD-style sets and most exported sets use); ``key``, the short
fact a right answer must hold (a string, or a list of acceptable strings; in CSV, alternatives
separated by ``|``); ``source`` (the document the fact is in; several: a list, or names separated by ``|``);
``split`` (``train``, ``dev``, ``test``), ``id``, and ``type`` (one of
:data:`~pipelines.common.question_types.QUESTION_TYPES`; untyped questions are tagged by rules later).
``"answerable": false`` (CSV: ``false``, ``no`` or ``0``) marks a question no document answers: its type is
``out-of-corpus``, it has no key, and its reference defaults to :data:`ABSTENTION_REFERENCE`.

Example::

    items = load_questions(Path("assets/questions.jsonl"), require_reference=True)
    items[0].keys, items[0].reference, items[0].split
    questions = load_question_set(Path("my_questions.csv"))     # just the question texts
    items[0].type                                               # '' unless the set gives one
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from pipelines.common.jsonl import JsonLineError, json_lines
from pipelines.common.question_types import OUT_OF_CORPUS, QUESTION_TYPES, normalise_type

MAX_BYTES = 5_000_000
MAX_QUESTIONS = 10_000
REFERENCE_FIELDS = ("reference", "answer", "ground_truth")
# The right answer to a question no document answers (its reference when the set gives none).
ABSTENTION_REFERENCE = "The documents do not say."
_FALSE = ("false", "no", "0")
_TRUE = ("true", "yes", "1", "")


TRAIN_SPLIT = "train"  # the split the training command trains on (with a question set's reference answers)


def normalise_question(text: str) -> str:
    """The form questions are matched in (a stored exchange to its set's question, a type edit to its question):
    case-folded, punctuation and extra spaces dropped, letters of every script kept (an ASCII-only form once
    turned every Chinese or Cyrillic question into the same empty key)."""
    return re.sub(r"[^\w ]|_", "", re.sub(r"\s+", " ", text.casefold())).strip()


class QuestionSetError(ValueError):
    """The question set cannot be used; the message says why (with the line number where it helps)."""


@dataclass(frozen=True)
class QuestionItem:
    """One question of a set, with what is known about its right answer."""

    question: str
    reference: str = ""
    keys: tuple[str, ...] = ()
    source: str = ""
    split: str = ""
    id: str = ""
    type: str = ""  # as the set gives it (validated); "" when it gives none

    @property
    def answerable(self) -> bool:
        """False for an out-of-corpus question: its right answer says the documents do not hold it."""
        return self.type != OUT_OF_CORPUS

    def in_split(self, split: str) -> bool:
        """Whether the question is in ``split``; a question without a split is in ``train`` (a set without
        splits is trained on whole by ``python -m pipelines.training``)."""
        return (self.split or TRAIN_SPLIT) == split

    @property
    def trainable(self) -> bool:
        """Whether the training command may train on it: the train split, never an out-of-corpus question."""
        return self.answerable and self.in_split(TRAIN_SPLIT)


def _keys(value: object, number: int) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split("|") if part.strip()) if "|" in value else (value.strip(),)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (str(value),)
    if isinstance(value, list) and all(isinstance(k, (str, int, float)) for k in value):
        return tuple(str(k).strip() for k in value if str(k).strip())
    raise QuestionSetError(f'Line {number}: "key" must be a string or a list of strings.')


def _item(row: dict, number: int, require_reference: bool) -> QuestionItem:
    question = row.get("question")
    if not isinstance(question, str):
        raise QuestionSetError(f'Line {number} has no "question" text field.')
    reference_field = next((name for name in REFERENCE_FIELDS if row.get(name) not in (None, "")), None)
    reference = row[reference_field] if reference_field else ""
    if isinstance(reference, list):  # SQuAD-style lists of acceptable answers: the first is the reference
        reference = str(reference[0]) if reference else ""
    if not isinstance(reference, (str, int, float)):
        raise QuestionSetError(f'Line {number}: the "{reference_field}" field must be text.')
    keys = _keys(row.get("key", row.get("keys")), number)
    kind = _type(row, number)
    if kind == OUT_OF_CORPUS and keys:
        raise QuestionSetError(f"Line {number} is out-of-corpus (no document answers it) but has a key.")
    reference = str(reference).strip() or (keys[0] if keys else "")
    if kind == OUT_OF_CORPUS:
        reference = reference or ABSTENTION_REFERENCE
    if require_reference and not reference:
        raise QuestionSetError(
            f"Line {number} has no reference answer: name it one of {', '.join(REFERENCE_FIELDS)} (or give a "
            '"key", the short fact a right answer must hold).')
    return QuestionItem(question.strip(), reference, keys, _source(row.get("source")),
                        str(row.get("split") or ""), str(row.get("id") or ""), kind)


def _source(value: object) -> str:
    """One document name, or several (a list) joined by ``|``."""
    if isinstance(value, list):
        return "|".join(str(part).strip() for part in value if str(part).strip())
    return str(value or "").strip()


def _type(row: dict, number: int) -> str:
    """The validated ``type`` ("" when not given); ``"answerable": false`` means out-of-corpus."""
    value = row.get("type")
    if value is not None and not isinstance(value, str):
        raise QuestionSetError(f'Line {number}: "type" must be text, one of {", ".join(QUESTION_TYPES)}.')
    kind = normalise_type(value or "")
    if kind and kind not in QUESTION_TYPES:
        raise QuestionSetError(
            f'Line {number}: unknown "type" "{value}"; the types are {", ".join(QUESTION_TYPES)}.')
    answerable = row.get("answerable")
    if answerable is None or isinstance(answerable, bool):
        flag = answerable
    elif isinstance(answerable, str) and answerable.strip().lower() in (*_FALSE, *_TRUE):
        flag = None if not answerable.strip() else answerable.strip().lower() not in _FALSE
    else:
        raise QuestionSetError(f'Line {number}: "answerable" must be true or false, got "{answerable}".')
    if flag is False:
        if kind not in ("", OUT_OF_CORPUS):
            raise QuestionSetError(f'Line {number} is not answerable but its "type" is "{kind}".')
        return OUT_OF_CORPUS
    if flag is True and kind == OUT_OF_CORPUS:
        raise QuestionSetError(f'Line {number} is out-of-corpus but marked "answerable": true.')
    return kind


def _rows(path: Path, text: str) -> list[tuple[int, dict]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        try:
            rows = json_lines(text)
        except JsonLineError as exc:
            raise QuestionSetError(str(exc)) from exc
        for number, row in rows:
            if not isinstance(row, dict):
                raise QuestionSetError(f'Line {number} has no "question" text field.')
        return rows
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            if not reader.fieldnames or "question" not in reader.fieldnames:
                raise QuestionSetError('The CSV needs a "question" column.')
            return [(number, {k: v for k, v in row.items() if k}) for number, row in enumerate(reader, start=2)]
        except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
            raise QuestionSetError(f"Line {reader.line_num}: the CSV cannot be read ({exc}).") from exc
    return [(number, {"question": line}) for number, line in enumerate(text.splitlines(), start=1)]


def load_questions(path: Path, *, require_reference: bool = False) -> list[QuestionItem]:
    """The set's questions in file order, duplicates (by text) dropped; :class:`QuestionSetError` says why
    a file cannot be used. ``require_reference``: every row must say what the right answer is."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise QuestionSetError(f"The file is over {MAX_BYTES // 1_000_000} MB.")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuestionSetError("The file is not UTF-8 text.") from exc
    except OSError as exc:
        raise QuestionSetError(f"{path.name} cannot be read: {exc.strerror or exc}") from exc
    items: dict[str, QuestionItem] = {}
    for number, row in _rows(path, text):
        text = row.get("question")
        blank = isinstance(text, str) and not text.strip()
        if blank or (text is None and path.suffix.lower() not in (".jsonl", ".json")):
            continue  # a blank line or an empty cell
        item = _item(row, number, require_reference)
        items.setdefault(item.question, item)
    if not items:
        raise QuestionSetError("The file holds no questions.")
    if len(items) > MAX_QUESTIONS:
        raise QuestionSetError(f"The file holds {len(items):,} questions; the limit is {MAX_QUESTIONS:,}.")
    return list(items.values())


def load_question_set(path: Path) -> list[str]:
    """Just the question texts (the arena's "next question" list)."""
    return [item.question for item in load_questions(path)]
