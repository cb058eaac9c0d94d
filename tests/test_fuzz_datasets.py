"""Property-based fuzzing of the question-set and training-pair files users upload (JSONL, CSV, text).

Generated files have generated field names (the accepted ones, their case variants, anything else) and values
(any JSON: nulls, numbers, NaN, lists, objects, deep nesting, huge numbers; text with NUL, line separators,
quotes and commas), broken lines and broken CSV quoting. Each gives a clean result or the documented error
with a message: :class:`QuestionSetError` and :class:`DatasetError` are what the arena tab, the Evaluation tab,
the Fine-tune tab and app start-up catch; any other exception reaches the user as a traceback.

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_datasets.py --hypothesis-show-statistics
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.common.questions import QuestionSetError, load_questions
from pipelines.training.data import COLUMN_PAIRS, MAX_FIELD_CHARS, DatasetError, load_pairs

QUESTION_FIELDS = ("question", "reference", "answer", "ground_truth", "key", "keys", "source", "split", "id")
PAIR_FIELDS = ("question", "answer", "instruction", "output", "prompt", "completion")
FIELD_NAMES = st.one_of(st.sampled_from(QUESTION_FIELDS + PAIR_FIELDS + ("Question", "ANSWER", " question", "")),
                        st.text(max_size=12))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
ROWS = st.lists(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6), max_size=8)
# A JSONL line: a generated row (ASCII-escaped or not), a bare JSON value, garbage, or a blank line.
JSONL_LINE = st.one_of(
    st.tuples(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=6), st.booleans()).map(
        lambda row: json.dumps(row[0], ensure_ascii=row[1])),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=30),
    st.just(""),
)
CELL = st.text(max_size=40)


@contextmanager
def written(suffix: str, data: str | bytes) -> Iterator[Path]:
    """The generated file in a fresh folder, as an upload arrives (bytes as given, text as UTF-8)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-dataset-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        yield path


def csv_text(header: list[str], rows: list[list[str]], quoted: bool) -> str:
    """A CSV written by the csv module (quoted: always valid) or joined by hand (broken quoting allowed)."""
    if not quoted:
        return "\n".join(",".join(cells) for cells in [header, *rows])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([header, *rows])
    return out.getvalue()


def check_questions(suffix: str, data: str | bytes, require_reference: bool) -> None:
    try:
        with written(suffix, data) as path:
            items = load_questions(path, require_reference=require_reference)
    except QuestionSetError as exc:
        assert str(exc).strip()
        return
    assert items, "a set that loads holds questions"
    assert len({item.question for item in items}) == len(items), "duplicates are dropped"
    for item in items:
        assert isinstance(item.question, str) and item.question == item.question.strip() and item.question
        assert all(isinstance(value, str) for value in (item.reference, item.source, item.split, item.id))
        assert all(isinstance(key, str) and key for key in item.keys)
        if require_reference:
            assert item.reference


def check_pairs(suffix: str, data: str | bytes) -> None:
    try:
        with written(suffix, data) as path:
            report = load_pairs(path)
    except DatasetError as exc:
        assert str(exc).strip()
        return
    assert report.examples
    questions = [example.question.lower() for example in report.examples]
    assert len(set(questions)) == len(questions), "duplicate questions are dropped"
    for pair in report.examples:
        assert pair.question and pair.answer and pair.question == pair.question.strip()
        assert len(pair.question) <= MAX_FIELD_CHARS and len(pair.answer) <= MAX_FIELD_CHARS
    assert all(number >= 1 and reason for number, reason in report.dropped.items())
    assert report.summary()


JSONL_EXAMPLES = [
    # Crashes these tests found: a JSON value nested thousands deep raised RecursionError, and an integer of more
    # than 4,300 digits raised ValueError, out of the JSON-lines parser (neither is a JSONDecodeError).
    ["[" * 100_000],
    ['{"question": "q", "answer": ' + "1" * 5000 + "}"],
    # Valid JSON refused: a line separator inside a string (as ensure_ascii=False writes it) split the line in two.
    ['{"question": "first\u2028second", "answer": "a", "reference": "r"}'],
    ['{"question": "a\x85b", "answer": "x", "reference": "r"}'],
]


@given(lines=st.lists(JSONL_LINE, max_size=10), require_reference=st.booleans(),
       suffix=st.sampled_from([".jsonl", ".json"]))
@example(lines=JSONL_EXAMPLES[0], require_reference=False, suffix=".jsonl")
@example(lines=JSONL_EXAMPLES[1], require_reference=False, suffix=".jsonl")
@example(lines=JSONL_EXAMPLES[2], require_reference=True, suffix=".jsonl")
@example(lines=JSONL_EXAMPLES[3], require_reference=True, suffix=".jsonl")
def test_question_set_jsonl_loads_or_is_refused(lines: list[str], require_reference: bool, suffix: str) -> None:
    """Any JSON-lines file: the questions it holds, or a QuestionSetError that names the problem."""
    check_questions(suffix, "\n".join(lines), require_reference)


@given(header=st.lists(FIELD_NAMES, min_size=1, max_size=5), rows=st.lists(st.lists(CELL, max_size=6), max_size=8),
       quoted=st.booleans(), require_reference=st.booleans())
# A crash these tests found: a field over the csv module's 131,072-character limit escaped as _csv.Error.
@example(header=["question"], rows=[["q" * 200_000]], quoted=True, require_reference=False)
@example(header=["question", "answer"], rows=[["what\x00", "x"]], quoted=True, require_reference=False)
def test_question_set_csv_loads_or_is_refused(header: list[str], rows: list[list[str]], quoted: bool,
                                              require_reference: bool) -> None:
    """Any CSV, with duplicate, empty and odd column names, short and long rows, broken quoting."""
    check_questions(".csv", csv_text(header, rows, quoted), require_reference)


@given(data=st.one_of(st.text(max_size=300), st.binary(max_size=300)),
       suffix=st.sampled_from([".txt", ".jsonl", ".csv", ".md", ""]), require_reference=st.booleans())
@example(data=b"\xff\xfe q\x00u\x00", suffix=".txt", require_reference=False)  # UTF-16: refused as not UTF-8
def test_question_set_of_any_bytes_loads_or_is_refused(data: str | bytes, suffix: str,
                                                       require_reference: bool) -> None:
    """Arbitrary text or bytes under any extension."""
    check_questions(suffix, data, require_reference)


@given(lines=st.lists(JSONL_LINE, max_size=10), suffix=st.sampled_from([".jsonl", ".json"]))
@example(lines=JSONL_EXAMPLES[0], suffix=".jsonl")
@example(lines=JSONL_EXAMPLES[1], suffix=".jsonl")
@example(lines=JSONL_EXAMPLES[2], suffix=".jsonl")
def test_training_pairs_jsonl_load_or_are_refused(lines: list[str], suffix: str) -> None:
    """Any JSON-lines dataset: clean pairs (row-numbered drops) or a DatasetError with the reason."""
    check_pairs(suffix, "\n".join(lines))


@given(header=st.lists(FIELD_NAMES, min_size=1, max_size=5), rows=st.lists(st.lists(CELL, max_size=6), max_size=8),
       quoted=st.booleans())
@example(header=["question", "answer"], rows=[["what\x00", "x"]], quoted=True)
@example(header=["question", "answer"], rows=[["q", "a" * 200_000]], quoted=True)
def test_training_pairs_csv_load_or_are_refused(header: list[str], rows: list[list[str]], quoted: bool) -> None:
    """Any CSV dataset, including NULs and cells past the csv module's field limit."""
    check_pairs(".csv", csv_text(header, rows, quoted))


@given(rows=ROWS)
@example(rows=[{"instruction": [], "output": []}])  # was kept as the pair ("[]", "[]")
@example(rows=[{"question": {"text": "hi"}, "answer": "a"}])  # was kept as the question "{'text': 'hi'}"
def test_training_pairs_from_generated_rows_keep_their_text(rows: list[dict]) -> None:
    """Rows written properly: each row is kept as its own question and answer, or dropped with its number."""
    with written(".jsonl", "".join(json.dumps(row) + "\n" for row in rows)) as path:
        try:
            report = load_pairs(path)
        except DatasetError as exc:
            assert str(exc).strip()
            return
    for pair in report.examples:
        number = int(pair.origin.rsplit(":", 1)[1])
        assert number not in report.dropped
        row = rows[number - 1]
        q, a = next((q, a) for q, a in COLUMN_PAIRS if q in row and a in row)
        assert not isinstance(row[q], (list, dict)) and not isinstance(row[a], (list, dict)), "JSON values are not text"
        assert pair.question == str(row[q]).strip() and pair.answer == str(row[a]).strip()
    assert len(report.examples) + len(report.dropped) == len(rows), "every row is kept or dropped, by number"


@given(data=st.one_of(st.text(max_size=300), st.binary(max_size=300)),
       suffix=st.sampled_from([".jsonl", ".csv", ".json", ".txt"]))
def test_training_pairs_of_any_bytes_load_or_are_refused(data: str | bytes, suffix: str) -> None:
    check_pairs(suffix, data)


QUESTION_TEXT = st.text(max_size=60)


def expected_questions(questions: list[str]) -> list[str]:
    """What a set of these question texts holds: stripped, blanks skipped, duplicates dropped, in file order."""
    return list(dict.fromkeys(q.strip() for q in questions if q.strip()))


@given(questions=st.lists(QUESTION_TEXT, max_size=12), ascii_only=st.booleans())
@example(questions=["first\u2028second", "a\x85b", "c\x1cd", "e\rf"], ascii_only=False)  # refused before the fix
def test_a_properly_written_jsonl_question_set_loads_every_question(questions: list[str], ascii_only: bool) -> None:
    """A set written by json.dumps, one object per line, loads exactly its questions: nothing valid is refused."""
    text = "".join(json.dumps({"question": q, "reference": "r"}, ensure_ascii=ascii_only) + "\n" for q in questions)
    with written(".jsonl", text) as path:
        if not expected_questions(questions):
            return
        items = load_questions(path, require_reference=True)
    assert [item.question for item in items] == expected_questions(questions)


@given(questions=st.lists(QUESTION_TEXT, max_size=12))
def test_a_properly_written_csv_question_set_loads_every_question(questions: list[str]) -> None:
    """A set written by the csv module loads exactly its questions (quotes, commas, newlines in cells)."""
    with written(".csv", csv_text(["question", "reference"], [[q, "r"] for q in questions], quoted=True)) as path:
        if not expected_questions(questions):
            return
        items = load_questions(path, require_reference=True)
    assert [item.question for item in items] == expected_questions(questions)


@given(pairs=st.lists(st.tuples(QUESTION_TEXT, QUESTION_TEXT), max_size=12),
       columns=st.sampled_from(COLUMN_PAIRS), ascii_only=st.booleans(), as_csv=st.booleans())
@example(pairs=[("first\u2028second", "answer")], columns=COLUMN_PAIRS[0], ascii_only=False, as_csv=False)
@example(pairs=[("0", "0\r0")], columns=COLUMN_PAIRS[0], ascii_only=False, as_csv=True)  # read as "0\n0" before
def test_properly_written_training_pairs_keep_every_usable_row(pairs: list[tuple[str, str]],
                                                              columns: tuple[str, str], ascii_only: bool,
                                                              as_csv: bool) -> None:
    """A dataset written by json.dumps or the csv module keeps exactly its non-empty, first-seen pairs."""
    q_name, a_name = columns
    if as_csv:
        text = csv_text([q_name, a_name], [list(pair) for pair in pairs], quoted=True)
    else:
        text = "".join(json.dumps({q_name: q, a_name: a}, ensure_ascii=ascii_only) + "\n" for q, a in pairs)
    seen: set[str] = set()
    expected = []
    for q, a in pairs:
        if q.strip() and a.strip() and q.strip().lower() not in seen:
            seen.add(q.strip().lower())
            expected.append((q.strip(), a.strip()))
    with written(".csv" if as_csv else ".jsonl", text) as path:
        if not expected:
            return
        report = load_pairs(path)
    assert [(e.question, e.answer) for e in report.examples] == expected
