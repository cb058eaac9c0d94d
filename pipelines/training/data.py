"""Training pairs as files: load a user's JSONL/CSV dataset with row-numbered cleaning, and write one.

Accepted columns: ``question``/``answer``, ``instruction``/``output`` or ``prompt``/``completion``
(strings). Empty and over-long rows are dropped and reported by row number (1 = the first data
row); a file with no usable row is refused.

Example::

    report = load_pairs(Path("pairs.jsonl"))
    report.examples, report.dropped   # {3: "empty answer", ...}
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.common.jsonl import JsonLineError, json_lines
from pipelines.training.config import Example

COLUMN_PAIRS = (("question", "answer"), ("instruction", "output"), ("prompt", "completion"))
MAX_FIELD_CHARS = 4000
NO_COLUMNS = "no question/answer columns"


class DatasetError(ValueError):
    """The dataset cannot be used; the message says why, with row numbers."""


@dataclass
class PairsReport:
    examples: list[Example] = field(default_factory=list)
    dropped: dict[int, str] = field(default_factory=dict)  # row number -> why

    def summary(self) -> str:
        text = f"{len(self.examples)} pairs"
        if self.dropped:
            rows = ", ".join(f"row {n}: {why}" for n, why in list(self.dropped.items())[:10])
            more = f" and {len(self.dropped) - 10} more" if len(self.dropped) > 10 else ""
            text += f"; {len(self.dropped)} rows dropped ({rows}{more})"
        return text


def _rows(path: Path) -> list[dict]:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # not read_text: its newline translation rewrites a \r in a cell
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path.name} cannot be read as UTF-8 text ({exc})") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            return list(reader)
        except csv.Error as exc:  # e.g. a field over the csv module's 131,072-character limit
            raise DatasetError(f"{path.name}: line {reader.line_num} cannot be read as CSV ({exc})") from exc
    try:
        return [row if isinstance(row, dict) else {} for _, row in json_lines(text)]
    except JsonLineError as exc:
        raise DatasetError(f"{path.name}: {exc}") from exc


def _text(value: object) -> str:
    """A cell as text; None and NaN (an empty cell of the Fine-tune tab's pandas table) are empty, not "nan"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def clean_pairs(rows: list[dict], origin: str = "dataset", max_chars: int = MAX_FIELD_CHARS) -> PairsReport:
    """Examples from rows, dropping (and numbering) empty, over-long and duplicate ones."""
    report = PairsReport()
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        keys = next(((q, a) for q, a in COLUMN_PAIRS if q in row and a in row), None)
        if keys is None:
            report.dropped[number] = NO_COLUMNS
            continue
        question, answer = (_text(row[key]) for key in keys)
        if any(isinstance(row[key], (list, dict)) for key in keys):  # str() would train on "{'text': ...}"
            report.dropped[number] = "the question or answer is not text"
        elif not question or not answer:
            report.dropped[number] = "empty question" if not question else "empty answer"
        elif len(question) > max_chars or len(answer) > max_chars:
            report.dropped[number] = f"longer than {max_chars} characters"
        elif question.lower() in seen:
            report.dropped[number] = "duplicate question"
        else:
            seen.add(question.lower())
            report.examples.append(Example(question, answer, f"{origin}:{number}"))
    return report


def load_pairs(path: Path) -> PairsReport:
    """A JSONL or CSV dataset of pairs, cleaned; :class:`DatasetError` when nothing usable is left."""
    if path.suffix.lower() not in (".jsonl", ".json", ".csv"):
        raise DatasetError(f"{path.name}: upload a .jsonl or .csv file of question/answer pairs")
    rows = _rows(path)
    if not rows:
        raise DatasetError(f"{path.name} is empty: it holds no rows of question/answer pairs")
    report = clean_pairs(rows, origin=path.name)
    if not report.examples:
        accepted = ", ".join(f"{q}/{a}" for q, a in COLUMN_PAIRS)
        hint = f". Accepted column pairs: {accepted}" if NO_COLUMNS in report.dropped.values() else ""
        raise DatasetError(f"{path.name} has no usable pairs: {report.summary()}{hint}")
    return report


def write_pairs(examples: list[Example], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"question": e.question, "answer": e.answer}, ensure_ascii=False) + "\n"
                            for e in examples))
    return path
