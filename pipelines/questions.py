"""Question sets for labeling sessions: the sample set or one the user uploads.

Accepted: JSONL with a ``question`` field per line, CSV with a ``question`` column, or
plain text with one question per line.

Example::

    questions = load_question_set(Path("my_questions.csv"))
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pipelines.jsonl import JsonLineError, json_lines

MAX_BYTES = 5_000_000
MAX_QUESTIONS = 10_000


class QuestionSetError(ValueError):
    """The uploaded question set cannot be used; the message says why."""


def load_question_set(path: Path) -> list[str]:
    if path.stat().st_size > MAX_BYTES:
        raise QuestionSetError(f"The file is over {MAX_BYTES // 1_000_000} MB.")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuestionSetError("The file is not UTF-8 text.") from exc
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        questions = []
        try:
            rows = json_lines(text)
        except JsonLineError as exc:
            raise QuestionSetError(str(exc)) from exc
        for number, row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("question"), str):
                raise QuestionSetError(f"Line {number} has no \"question\" text field.")
            questions.append(row["question"])
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "question" not in reader.fieldnames:
            raise QuestionSetError('The CSV needs a "question" column.')
        questions = [row["question"] or "" for row in reader]
    else:
        questions = text.splitlines()
    questions = list(dict.fromkeys(q.strip() for q in questions if q and q.strip()))
    if not questions:
        raise QuestionSetError("The file holds no questions.")
    if len(questions) > MAX_QUESTIONS:
        raise QuestionSetError(f"The file holds {len(questions):,} questions; the limit is {MAX_QUESTIONS:,}.")
    return questions
