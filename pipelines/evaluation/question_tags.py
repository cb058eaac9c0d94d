"""The user's question types: a type edited in the Evaluation tab wins over the set's and the rules'.

A question set may give each question a ``type``; where it does not,
:func:`~pipelines.common.question_types.tag_question` tags it by rules. The Evaluation tab lists every question of
the configured set with its type and where that came from (``set``, ``rules: <reason>`` or ``edited``), and the
user may change the type. An edit is kept in ``<data dir>/question-types.json`` (the question's text, normalised by
:func:`~pipelines.common.questions.normalise_question`, -> its type; written whole through a temporary file and
``os.replace``, so a failed write leaves the old file) and applied wherever the app slices answers (the verdict,
the Leaderboard's "where each approach wins", batch runs): :func:`apply_type_edits` sets the item's ``type`` as if
the set had declared it. Only a type that differs from the set's or the rules' is kept; setting it back drops the
edit.

``out-of-corpus`` cannot be edited here, to or from: it is not only a slice but what counts as a right answer
(saying the documents do not say) and whether the question's reference trains the adapter, and the set file says
it (``"answerable": false``, and no key). A stored edit never applies to a question the set marks out-of-corpus.

Example::

    store = QuestionTypeStore.in_data_dir(settings.data_dir)       # data/question-types.json
    items = load_questions(Path("assets/questions.jsonl"))
    type_rows(items, store.load())[4]
    # TypeRow(id='q05', question='How much does a Tessel T4 weigh?', type='number',
    #         origin='rules: the key "380 grams" holds a quantity')
    save_type_edits(store, items, [("q05", "How much does a Tessel T4 weigh?", "lookup")])   # 1 edited type
    type_rows(items, store.load())[4].origin                         # 'edited'
    apply_type_edits(items, store.load())[4].type                    # 'lookup', as if the set said so
    typed_questions(settings.questions_file, settings.data_dir)      # the set loaded, with the edits applied
    check_type("quantity")   # QuestionTypeError: unknown type "quantity": the types are lookup, number, ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipelines.common.atomic_file import write_text_atomically
from pipelines.common.question_types import OUT_OF_CORPUS, QUESTION_TYPES, QuestionTag, normalise_type, tag_question
from pipelines.common.questions import QuestionItem, load_questions, normalise_question

QUESTION_TYPES_FILE = "question-types.json"
EDITABLE_TYPES: tuple[str, ...] = tuple(kind for kind in QUESTION_TYPES if kind != OUT_OF_CORPUS)
SET, EDITED, RULES = "set", "edited", "rules"
OUT_OF_CORPUS_BY_SET = (f'"{OUT_OF_CORPUS}" comes from the question set only, since it changes what counts as a '
                        'right answer: mark the question "answerable": false (or true) in the set file')
_WRITING = threading.Lock()  # one read-change-write at a time within the app


class QuestionTypeError(ValueError):
    """A type cannot be stored, or the stored file cannot be read; the message says why (and which row)."""


def check_type(value: object) -> str:
    """``value`` as one of :data:`EDITABLE_TYPES` (``Multi fact`` reads as ``multi-fact``); else
    :class:`QuestionTypeError` naming the allowed types (out-of-corpus: pointing to the set file)."""
    kind = normalise_type(value) if isinstance(value, str) else ""
    if kind == OUT_OF_CORPUS:
        raise QuestionTypeError(OUT_OF_CORPUS_BY_SET + ".")
    if kind not in EDITABLE_TYPES:
        shown = "no type" if not kind else f'unknown type "{value}"'
        raise QuestionTypeError(f"{shown}: the types are {', '.join(EDITABLE_TYPES)}.")
    return kind


@dataclass(frozen=True)
class QuestionTypeStore:
    """The user's type edits in one JSON file: ``{"version": 1, "types": {normalised question: type}}``."""

    path: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> QuestionTypeStore:
        return cls(Path(data_dir) / QUESTION_TYPES_FILE)

    def load(self) -> dict[str, str]:
        """The stored edits (none when the file is missing); a file that is not this store's raises
        :class:`QuestionTypeError` naming it (the app never writes one, so it was edited by hand)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise QuestionTypeError(f"{self.path} cannot be read ({exc}); fix or delete it.") from exc
        types = data.get("types") if isinstance(data, dict) else None
        if not isinstance(types, dict):
            raise QuestionTypeError(f'{self.path} holds no "types" object; fix or delete it.')
        edits: dict[str, str] = {}
        for question, kind in types.items():
            try:
                edits[question] = check_type(kind)
            except QuestionTypeError as exc:
                raise QuestionTypeError(f'{self.path}: "{question}": {exc} Fix or delete the file.') from exc
        return edits

    def save(self, edits: Mapping[str, str]) -> None:
        """Write every edit (checked first: a bad one writes nothing) through a temporary file beside the store
        and ``os.replace``, so a reader sees the old file or the new one, never half of one."""
        checked = {normalise_question(question): check_type(kind) for question, kind in edits.items()}
        if any(not question for question in checked):
            raise QuestionTypeError("An edited type needs the question's text.")
        text = json.dumps({"version": 1, "types": dict(sorted(checked.items()))}, ensure_ascii=False, indent=1)
        try:  # a full disk or a read-only data dir: a clear message, and the old file stays as it was
            write_text_atomically(self.path, text + "\n")
        except OSError as exc:
            raise QuestionTypeError(f"Cannot write {self.path}: {exc.strerror or exc}. Nothing was saved.") from exc

    def update(self, changes: Mapping[str, str | None]) -> dict[str, str]:
        """Apply ``changes`` (question -> type, or None to drop the edit) over the stored edits, keeping every
        other one; the edits now stored (by normalised question)."""
        with _WRITING:
            edits = self.load()
            for question, kind in changes.items():
                if kind is None:
                    edits.pop(normalise_question(question), None)
                else:
                    edits[normalise_question(question)] = kind
            self.save(edits)
            return {normalise_question(question): kind for question, kind in edits.items()}


def _editable(item: QuestionItem, kind: str | None) -> bool:
    """Whether an edit applies: none to a question the set marks out-of-corpus."""
    return kind is not None and item.type != OUT_OF_CORPUS


def apply_type_edits(items: Iterable[QuestionItem], edits: Mapping[str, str]) -> list[QuestionItem]:
    """The items with each edited question's ``type`` set as if the set had declared it (new items; the rest as
    they are), so :func:`~pipelines.common.question_types.tag_question` keeps it."""
    typed = []
    for item in items:
        kind = edits.get(normalise_question(item.question))
        typed.append(replace(item, type=kind) if _editable(item, kind) else item)
    return typed


@dataclass(frozen=True)
class TypeRow:
    """One row of the Evaluation tab's table: the question, its type and where that came from (``set``,
    ``rules: <reason>``, ``edited``)."""

    id: str
    question: str
    type: str
    origin: str


def _given(tag: QuestionTag) -> str:
    return SET if tag.declared else f"{RULES}: {tag.reason}"


def type_rows(items: Iterable[QuestionItem], edits: Mapping[str, str], *,
              updated_sources: Iterable[str] = ()) -> list[TypeRow]:
    """Every question of the set (its ``items`` as loaded, before any edit) with the type the slices use.
    ``updated_sources``: the documents changed after the adapter's data (as the verdict tags them)."""
    changed = frozenset(updated_sources)
    rows = []
    for item in items:
        kind = edits.get(normalise_question(item.question))
        if _editable(item, kind):
            rows.append(TypeRow(item.id, item.question, kind, EDITED))
        else:
            tag = tag_question(item, updated_sources=changed)
            rows.append(TypeRow(item.id, item.question, tag.type, _given(tag)))
    return rows


def type_changes(items: Iterable[QuestionItem], rows: Sequence[Sequence[object]], *,
                 updated_sources: Iterable[str] = ()) -> dict[str, str | None]:
    """What saving the table's ``rows`` (id, question, type, ...; as :func:`type_rows` lists them, the type
    perhaps edited) changes: normalised question -> its edited type, or None where the row's type is the set's or
    the rules' (the edit, if any, is dropped); blank rows are skipped. Every row is checked first: a row that names
    no question of the set, repeats one, or gives a type that cannot be set raises :class:`QuestionTypeError`
    naming the row."""
    changed = frozenset(updated_sources)
    by_question = {normalise_question(item.question): item for item in items}
    seen: dict[str, int] = {}
    changes: dict[str, str | None] = {}
    for number, row in enumerate(rows, start=1):
        cells = list(row)
        if not any(str(cell).strip() for cell in cells if cell is not None):
            continue  # a blank row (one added in the table and left empty)
        question = str(cells[1]) if len(cells) > 1 and cells[1] is not None else ""
        given = cells[2] if len(cells) > 2 else None
        shown = f'Row {number} ("{question[:60]}")' if question.strip() else f"Row {number}"
        key = normalise_question(question)
        item = by_question.get(key)
        if item is None:
            raise QuestionTypeError(f"{shown} is not a question of the set: only the type column can be edited "
                                    "(reload the table).")
        if key in seen:
            raise QuestionTypeError(f"{shown} repeats row {seen[key]}'s question.")
        seen[key] = number
        base = tag_question(item, updated_sources=changed)
        if isinstance(given, str) and normalise_type(given) == base.type:
            changes[key] = None  # the set's or the rules' type: no edit (out-of-corpus kept as the set says)
            continue
        if base.type == OUT_OF_CORPUS:
            raise QuestionTypeError(f"{shown} is out-of-corpus by the set file: {OUT_OF_CORPUS_BY_SET}.")
        try:
            changes[key] = check_type(given)
        except QuestionTypeError as exc:
            raise QuestionTypeError(f"{shown}: {exc}") from exc
    return changes


def save_type_edits(store: QuestionTypeStore, items: Sequence[QuestionItem], rows: Sequence[Sequence[object]], *,
                    updated_sources: Iterable[str] = ()) -> int:
    """Check every row (:func:`type_changes`), then store the changes, keeping every other stored edit (other
    sets' questions, rows not in the table); how many of the set's questions now have an edited type. A bad row
    raises :class:`QuestionTypeError` and stores nothing."""
    changes = type_changes(items, rows, updated_sources=updated_sources)
    edits = store.update(changes)
    return sum(1 for item in items if _editable(item, edits.get(normalise_question(item.question))))


def typed_questions(questions_file: Path, data_dir: Path) -> list[QuestionItem]:
    """The question set loaded (:func:`~pipelines.common.questions.load_questions`) with the user's type edits of
    ``data_dir`` applied: what the verdict and the slices count."""
    return apply_type_edits(load_questions(questions_file), QuestionTypeStore.in_data_dir(data_dir).load())


def question_type_table(questions_file: Path, data_dir: Path, *,
                        updated_sources: Iterable[str] = ()) -> list[TypeRow]:
    """:func:`type_rows` of the question set with the edits stored in ``data_dir``."""
    return type_rows(load_questions(questions_file), QuestionTypeStore.in_data_dir(data_dir).load(),
                     updated_sources=updated_sources)


def save_question_types(questions_file: Path, data_dir: Path, rows: Sequence[Sequence[object]], *,
                        updated_sources: Iterable[str] = ()) -> int:
    """:func:`save_type_edits` for the question set and the store in ``data_dir``."""
    return save_type_edits(QuestionTypeStore.in_data_dir(data_dir), load_questions(questions_file), rows,
                           updated_sources=updated_sources)
