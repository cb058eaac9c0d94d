"""Question sets kept per collection in the data dir, and which set the evaluation uses.

A collection's set lives at ``<data dir>/question-sets/<collection>.jsonl`` (the JSONL the app reads everywhere,
:mod:`pipelines.common.questions`), with ``<collection>.meta.json`` beside it (how it was made: generator, seed,
the highest word overlap with the adapter's training questions, what the checks dropped). Every save validates
the rows as the loader will read them *before* anything is written, then replaces the file whole: an edit into an
invalid state raises :class:`~pipelines.common.questions.QuestionSetError` and the saved set is unchanged.

Which set the Evaluation tab, the batch run, the verdict and the Arena's "next question" use is one choice, kept in
``question-sets/chosen.json``: the file given at start-up (``ARENA_QUESTIONS_FILE``) or a collection's set. Each
use names the set with its content hash (:attr:`ChosenSet.label`), so a verdict says exactly which questions it
was built on.

Example::

    sets = SavedQuestionSets(settings.data_dir, startup_file=settings.questions_file)
    saved = sets.save("Manuals", rows)               # rows: dicts in the JSONL row shape
    sets.choose("Manuals")
    chosen = sets.chosen()                           # ChosenSet(name='Manuals', path=..., content_hash='3f2a...')
    chosen.label                                     # 'Manuals (sha256 3f2a9c1d0b7e)'
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.common.atomic_file import write_text_atomically
from pipelines.common.questions import QuestionItem, QuestionSetError, load_questions

FOLDER = "question-sets"
CHOSEN_FILE = "chosen.json"
STARTUP = ""  # the chosen-set name that means "the file given at start-up"
# The row fields a saved set keeps, in this order (others a generator adds are kept after them).
ROW_FIELDS = ("id", "question", "reference", "key", "source", "type", "form", "split", "answerable")


def content_hash(path: Path) -> str:
    """SHA-256 of the set's bytes: two runs name the same questions only if their hashes agree."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ChosenSet:
    """The question set in use: its name (a collection's, or the start-up file's), file and content hash."""

    name: str
    path: Path
    collection: str | None  # None: the file given at start-up (retrieval then uses the default collection)
    content_hash: str
    max_training_overlap: float | None = None  # recorded when the set was generated against training questions

    @property
    def label(self) -> str:
        """How reports and verdicts name the set: the name, the first 12 hex digits of its hash, and the highest
        word overlap of its questions with the adapter's training questions where it was measured."""
        parts = [f"sha256 {self.content_hash[:12]}"] if self.content_hash else []
        if self.max_training_overlap is not None:
            parts.append(f"highest word overlap with training questions {self.max_training_overlap:.2f}")
        return f"{self.name} ({', '.join(parts)})" if parts else self.name


@dataclass(frozen=True)
class SavedSet:
    """What :meth:`SavedQuestionSets.save` stored."""

    path: Path
    questions: int
    content_hash: str


def rows_to_jsonl(rows: Sequence[Mapping[str, object]]) -> str:
    """The rows as JSON lines, each row's known fields first and empty optional fields left out."""
    lines = []
    for row in rows:
        ordered = {name: row[name] for name in ROW_FIELDS if name in row}
        ordered.update({name: value for name, value in row.items() if name not in ordered})
        kept = {name: value for name, value in ordered.items() if value not in (None, "", [])}
        lines.append(json.dumps(kept, ensure_ascii=False, sort_keys=False))
    return "\n".join(lines) + "\n"


def validate_rows(rows: Sequence[Mapping[str, object]]) -> list[QuestionItem]:
    """The rows as the loader reads them (every question needs a reference or a key; an out-of-corpus question
    no key); :class:`QuestionSetError` names the first bad row. Nothing is written anywhere but a temporary file."""
    if not rows:
        raise QuestionSetError("The set holds no questions: generate some or add one by hand.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "set.jsonl"
        path.write_text(rows_to_jsonl(rows), encoding="utf-8")
        items = load_questions(path, require_reference=True)
    if len(items) < len(rows):
        seen: set[str] = set()
        for number, row in enumerate(rows, start=1):
            text = str(row.get("question") or "").strip()
            if text in seen:
                raise QuestionSetError(f"Line {number} repeats an earlier question: {text!r}.")
            seen.add(text)
        raise QuestionSetError("A row has no question text.")
    return items


class SavedQuestionSets:
    """The data dir's question sets, one per collection, and the chosen one (see the module docstring)."""

    def __init__(self, data_dir: Path, startup_file: Path) -> None:
        self.folder = data_dir / FOLDER
        self.startup_file = startup_file

    def path(self, collection: str) -> Path:
        if not collection or "/" in collection or collection.startswith("."):
            raise QuestionSetError(f"{collection!r} is not a collection name.")
        return self.folder / f"{collection}.jsonl"

    def meta_path(self, collection: str) -> Path:
        return self.path(collection).with_suffix(".meta.json")

    def save(self, collection: str, rows: Sequence[Mapping[str, object]],
             meta: Mapping[str, object] | None = None) -> SavedSet:
        """Validate, then write the collection's set (and its metadata) atomically."""
        validate_rows(rows)
        path = self.path(collection)
        write_text_atomically(path, rows_to_jsonl(rows))
        digest = content_hash(path)
        if meta is not None:
            write_text_atomically(self.meta_path(collection),
                                  json.dumps({**meta, "content_hash": digest}, indent=2, ensure_ascii=False))
        return SavedSet(path, len(rows), digest)

    def rows(self, collection: str) -> list[dict]:
        """The saved set's rows as stored (empty when the collection has none)."""
        path = self.path(collection)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def meta(self, collection: str) -> dict:
        path = self.meta_path(collection)
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError):
            return {}

    def collections_with_sets(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    def choose(self, collection: str | None) -> ChosenSet:
        """Use the collection's saved set from now on (``None`` or ``""``: the start-up file)."""
        name = collection or STARTUP
        if name and not self.path(name).exists():
            raise QuestionSetError(f"{name} has no saved question set yet: generate one and save it first.")
        write_text_atomically(self.folder / CHOSEN_FILE, json.dumps({"collection": name}))
        return self.chosen()

    def chosen(self) -> ChosenSet:
        """The set in use; the start-up file when none was chosen or the chosen one is gone."""
        try:
            name = json.loads((self.folder / CHOSEN_FILE).read_text(encoding="utf-8")).get("collection") or STARTUP
        except (OSError, ValueError, AttributeError):
            name = STARTUP
        if name and self.path(name).exists():
            path = self.path(name)
            digest, meta = content_hash(path), self.meta(name)
            overlap = meta.get("max_training_overlap") if meta.get("content_hash") == digest else None
            return ChosenSet(name, path, name, digest,
                             float(overlap) if isinstance(overlap, (int, float)) else None)
        path = self.startup_file
        return ChosenSet(path.name, path, None, content_hash(path) if path.is_file() else "")
