"""Question sets generated from the user's own documents: keyed, checked, fair to fine-tuning, offline.

``generate_question_set`` reads the facts of each document (:mod:`pipelines.evaluation.question_facts`), words a
question for each by rules (:mod:`pipelines.evaluation.question_wording`), checks every question
(:mod:`pipelines.evaluation.question_checks`), picks a set in proportion to each document's facts, and adds
out-of-corpus questions (:mod:`pipelines.evaluation.out_of_corpus`). Every dropped question is counted by reason.
The rows are the JSONL :func:`pipelines.common.questions.load_questions` reads: ``id``, ``question``,
``reference`` (the sentence, list item or table row the key is in), ``key`` (a string, or a list of acceptable
forms), ``source``, ``type`` (a :data:`~pipelines.common.question_types.QUESTION_TYPES` value), ``split``, and
``"answerable": false`` on out-of-corpus rows, plus ``form`` (the generator's own form: lookup, number, date,
multi-fact, comparison) and, on multi-fact rows, ``keys_all`` (each asked fact's key forms).

Forms map to types: date -> number, comparison -> multi-fact. Splits: a seeded fifth of the rows is ``dev``, the
rest ``test``; none is ``train``, so the training command never trains on a generated set.

Example::

    documents = read_documents(Path("assets/eval/dev/docs"))
    generated = generate_question_set(documents, count=40, seed=0,
                                      training_questions=load_training_questions(Path("pairs.jsonl")))
    generated.dropped.most_common(3), generated.max_training_overlap, generated.content_hash
    write_question_set(Path("data/questions/generated.jsonl"), generated)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipelines.common.atomic_file import write_text_atomically
from pipelines.common.correctness import normalise_answer
from pipelines.common.documents import document_files
from pipelines.common.question_types import LOOKUP, MULTI_FACT, NUMBER, OUT_OF_CORPUS
from pipelines.evaluation.out_of_corpus import Retrieve, out_of_corpus_questions
from pipelines.evaluation.question_checks import (
    MAX_TRAINING_OVERLAP,
    NEAR_DUPLICATE,
    content_words,
    highest_overlap,
    key_in_text,
    question_holds_key,
    word_overlap,
)
from pipelines.evaluation.question_facts import (
    CODE,
    DATE,
    NAME,
    TIME,
    TITLE,
    YEAR,
    Span,
    Unit,
    bare_name,
    fact_spans,
    key_forms,
    span_unit_kind,
    text_units,
    verb_form,
)
from pipelines.evaluation.question_wording import (
    QUOTE_LIMIT,
    Refused,
    cell_question,
    comparison_question,
    joined_question,
    quoted_run,
    superlative_question,
    word_question,
)
from pipelines.knowledge.readers import ReadError, read_document

Progress = Callable[[float, str], None]
FORMS = ("lookup", "number", "date", "multi-fact", "comparison")
FORM_TYPES = {"lookup": LOOKUP, "number": NUMBER, "date": NUMBER, "multi-fact": MULTI_FACT,
              "comparison": MULTI_FACT}
OUT_OF_CORPUS_SHARE = 0.15  # of the set, by default: the goal is at least 10%, with room for a few dropped
#: The default ``count``: a cap, not a target. The set holds one question per distinct checkable fact the rules
#: can word (each document's facts in proportion), up to this many questions; a small corpus gives fewer. 300: the
#: rules word 204-242 questions on each of the three five-document dev corpora (docs/question_sets.md), so a corpus
#: of that size gets every fact once; 200 cut 5-20% of them at random.
DEFAULT_COUNT = 300
JOINED_SHARE = 0.1  # of the answerable questions: multi-fact, and again comparison
DEV_SHARE = 0.2
MIN_PER_DOCUMENT = 2
SALIENT_MENTIONS = 6  # a noun the document uses this often names one thing there ("the cooperative", "the line")
_ENTITY_HEADERS = ("name", "station", "vehicle", "section", "stop", "route", "service", "train", "item", "product",
                   "ticket", "fare", "pass", "condition", "title", "place", "vessel")


#: A first column so headed lists what is compared, and the other columns are the things compared ("Feature:
#: Uptime commitment; Starter: 99.5%; Business: 99.9%"): asked "What uptime commitment is listed for Business?".
_ATTRIBUTE_HEADERS = frozenset(["feature", "features", "attribute", "characteristic", "specification", "property",
                                "measure", "criterion"])
#: Table columns of free text: their cells are remarks, not a value a question can ask for.
_FREE_TEXT_HEADERS = frozenset(["note", "notes", "remark", "comment", "description", "detail", "info", "information",
                                "observation", "see also", "footnote", "other"])


#: The second column of a two-column table that pairs a label with its value ("Item | Detail": "Minimum investment |
#: £250"): each row reads as a "Label: value" line.
_VALUE_HEADERS = _FREE_TEXT_HEADERS | frozenset(["value", "amount", "figure", "answer", "term", "terms", "details",
                                                 "particulars", "fact", "facts"])
#: Columns that hold a post ("Treasurer") and columns that hold who holds it: "Who is the Treasurer?".
_ROLE_HEADERS = frozenset(["role", "position", "post", "title", "job title", "office", "job", "responsibility"])
_PERSON_HEADERS = frozenset(["name", "person", "contact", "officer", "held by", "holder", "post holder", "lead",
                             "leader", "staff member", "member"])


class QuestionGenerationError(ValueError):
    """No question set can be made from the input; the message says why (a file that cannot be read, no
    documents, no checkable fact in any document)."""


@dataclass(frozen=True)
class SourceDocument:
    """A document as the app's readers read it: its file name and its text."""

    name: str
    text: str


@dataclass(frozen=True)
class Candidate:
    """A generated question before selection."""

    question: str
    keys: tuple[str, ...]
    reference: str
    source: str
    form: str
    order: int  # where its fact is in the document, for a stable reading order
    rank: int = 0  # 0: a sure wording of a telling fact; 1: of a year, time or code; +2: a guessed verb
    entity: str = ""  # what it is about (a table row's name, a sentence's subject), for joins
    attribute: str = ""  # what it asks of the entity (a column, a unit), for comparisons
    value: float | None = None
    parts: tuple[tuple[str, ...], ...] = ()
    entity_kind: str = ""  # what the entity is (its table column's header: "Library"), for superlatives


@dataclass
class DocumentReport:
    """What one document gave: how many facts passed the checks, how many questions were kept, and why none."""

    facts: int = 0
    questions: int = 0
    reason: str = ""


@dataclass
class GeneratedSet:
    """A generated question set: its rows (the JSONL shape), what was dropped and why, and its measures."""

    items: list[dict]
    dropped: Counter[str] = field(default_factory=Counter)
    documents: dict[str, DocumentReport] = field(default_factory=dict)
    max_training_overlap: float = 0.0
    overlap_threshold: float = MAX_TRAINING_OVERLAP
    seed: int = 0
    generator: str = "rules"

    def to_jsonl(self) -> str:
        """The rows as JSONL text, one object per line in a fixed key order (the file the set is written as)."""
        return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in self.items)

    @property
    def content_hash(self) -> str:
        """sha256 of the JSONL text: what a batch run or verdict built on this set records."""
        return hashlib.sha256(self.to_jsonl().encode("utf-8")).hexdigest()

    def summary(self) -> str:
        """One paragraph for a command line or a status box."""
        forms = Counter(item["form"] for item in self.items)
        mix = ", ".join(f"{forms[form]} {form}" for form in (*FORMS, OUT_OF_CORPUS) if forms[form])
        lines = [f"{len(self.items)} questions ({mix}); highest word overlap with the training questions "
                 f"{self.max_training_overlap:.2f} (threshold {self.overlap_threshold:.2f})."]
        for name, report in self.documents.items():
            note = f" ({report.reason})" if report.reason else ""
            lines.append(f"  {name}: {report.questions} questions from {report.facts} checkable facts{note}")
        if self.dropped:
            lines.append("Dropped: " + "; ".join(f"{why}: {n}" for why, n in sorted(self.dropped.items())))
        return "\n".join(lines)


def read_documents(folder: Path, *, skip_unreadable: bool = False) -> list[SourceDocument]:
    """The readable documents directly in ``folder`` (the app's readers: PDF, DOCX, HTML, Markdown, text).

    A file the readers refuse raises :class:`QuestionGenerationError` naming it, unless ``skip_unreadable``;
    a folder with no document raises it too."""
    if not folder.is_dir():
        raise QuestionGenerationError(f"{folder} is not a folder of documents")
    documents, problems = [], []
    for path in document_files(folder):
        try:
            documents.append(SourceDocument(path.name, read_document(path.name, path.read_bytes()).text))
        except (ReadError, OSError) as exc:
            problems.append(f"{path.name}: {exc}")
    if problems and not skip_unreadable:
        raise QuestionGenerationError("cannot read " + "; ".join(problems))
    if not documents:
        raise QuestionGenerationError(f"{folder} holds no readable document (supported: PDF, DOCX, HTML, "
                                      "Markdown, text)" + (f"; {'; '.join(problems)}" if problems else ""))
    return documents


def _form(span: Span) -> str:
    if span.kind in (NAME, CODE):
        return "lookup"
    return "date" if span.kind in (YEAR, DATE, TIME) else "number"


def _row_entity(cells: Sequence[tuple[str, str]]) -> tuple[int, str]:
    """Which cell names the row: a "Name"-like column, else the first cell that is not a bare number, else the
    first cell with its header ("Train 114")."""
    def names(value: str) -> bool:  # a name, not a measure ("12 km/h") nor an event ("Record year with 412,600 ...")
        return bool(re.search(r"[A-Za-z]{2}", value)) and len(value.split()) <= 5 and not re.search(r"\d", value) \
            and not any(word.islower() and verb_form(word) == "VBZ" for word in value.split())

    for index, (header, value) in enumerate(cells):
        if header.lower().split(" ")[0] in _ENTITY_HEADERS and names(value):
            return index, value
        if header.lower().split(" ")[0] in _ENTITY_HEADERS and re.fullmatch(r"[A-Z]?\d+[A-Z]?", value):
            return index, f"{header.rstrip('.')} {value}"  # "Train: 116" names the row as "Train 116"
    for index, (header, value) in enumerate(cells):
        if names(value) and header.strip().lower().rstrip("s") not in _FREE_TEXT_HEADERS | {"day", "date"}:
            return index, value
    if cells and cells[0][0] and cells[0][1]:
        header = cells[0][0].rstrip(".")
        if header.lower() in ("day", "days", "date", "month"):
            return 0, cells[0][1]  # "Day: Monday" names the row "Monday"
        if cells[0][1].lower().startswith(header.lower()):
            return 0, cells[0][1]  # "Severity: Severity 1" names the row "Severity 1", not "Severity Severity 1"
        return 0, f"{header} {cells[0][1]}" if header.lower() not in ("no", "#") else f"No. {cells[0][1]}"
    return 0, cells[0][1] if cells else ""


#: Cell values that state no fact a question could ask for.
_EMPTY_CELLS = frozenset(["yes", "no", "none", "n/a", "na", "nil", "tbc", "tba", "tbd", "unknown", "various", "other",
                          "see notes", "see below", "-", "–", "—"])


def _cell_span(value: str) -> Span | None:
    """The fact a cell holds: the whole cell, or a span that starts it (a longer note's number is not its fact); a
    short lower-case value is a category the table lists ("diesel", "step-free")."""
    spans = fact_spans(value)
    if len(spans) >= 2 and re.fullmatch(r"\s*(?:to|until|-|–)\s*", value[spans[0].start + len(spans[0].text):
                                                                        spans[1].start]):
        return None  # "10:30 to 20:00": one end of a range is not the cell's fact
    if spans and spans[0].start == 0 and len(value.split()) <= 5:
        return spans[0]
    titled = TITLE.match(value)
    if titled and spans and spans[0].kind == NAME and spans[0].start == titled.end() and len(spans) == 1:
        return spans[0]  # "Dr. Tamsin Redvers": the person
    if spans or len(value.split()) > 4:
        return None
    if re.fullmatch(r"[\d.,]+", value):
        return Span(value, "number", 0, "", float(value.replace(",", "")) if value.replace(",", "").replace(
            ".", "", 1).isdigit() else None)
    if value.strip(" .").lower() in _EMPTY_CELLS:
        return None
    if re.fullmatch(r"[a-z][a-z-]+(?:\s+[a-z][a-z-]+){0,2}", value.strip(" .")):
        return Span(value.strip(" ."), NAME, 0)
    return Span(value, NAME, 0) if 1 <= len(value.split()) <= 4 and value[:1].isupper() else None


def _qualifies(value: str) -> bool:
    """Whether a cell can tell two rows of the same name apart ("Small", "Zone A"): a few words, no number."""
    return 1 <= len(value.split()) <= 3 and bool(re.search(r"[A-Za-z]", value)) and not re.search(r"\d", value)


def row_names(units: Sequence[Unit]) -> dict[int, tuple[frozenset[int], str]]:
    """What names each table row (by its index in ``units``) and which of its cells the name uses. A name shared by
    several rows ("Rye loaf" in a small and a large size) takes the first other cell that tells them apart, in
    brackets ("Rye loaf (Small)", "Single (Zone A)"); rows that no cell tells apart get no name (no question)."""
    rows = {order: unit for order, unit in enumerate(units) if unit.cells}
    first = {order: _row_entity(unit.cells) for order, unit in rows.items()}
    counts = Counter(name for _, name in first.values())
    names = {order: (frozenset([index]), name) for order, (index, name) in first.items() if name and counts[name] == 1}
    for name in sorted(n for n, c in counts.items() if c > 1 and n):
        group = [order for order, (_, n) in first.items() if n == name]
        for column in range(max(len(rows[order].cells) for order in group)):
            labels = {}
            for order in group:
                cells = rows[order].cells
                if column >= len(cells) or column == first[order][0] or not _qualifies(cells[column][1]):
                    break
                header, value = cells[column]
                labels[order] = f"{name} ({header} {value})" if len(value) <= 2 and header else f"{name} ({value})"
            else:
                if len(set(labels.values())) == len(group):
                    names.update({order: (frozenset([first[order][0], column]), labels[order]) for order in group})
                    break
    return names


def _row_candidates(document: SourceDocument, unit: Unit, order: int, named: tuple[frozenset[int], str] | None
                    ) -> list[Candidate]:
    if unit.cells and (not unit.cells[0][0] or unit.cells[0][0].strip().lower() in _ATTRIBUTE_HEADERS) and \
            len(unit.cells) > 1 and all(h for h, _ in unit.cells[1:]):
        return _labelled_row_candidates(document, unit, order)
    if len(unit.cells) == 2 and unit.cells[1][0].strip().lower() in _VALUE_HEADERS:
        return _pair_row_candidates(document, unit, order)
    found = _holder_candidates(document, unit, order)
    if named is None:
        return found
    used, entity = named
    for position, (header, value) in enumerate(unit.cells):
        if position in used or not header or header.strip().lower() in ("no.", "no", "#", "nr."):
            continue
        if header.strip().lower().rstrip("s") in _FREE_TEXT_HEADERS:
            continue  # a notes column holds remarks, not a fact of the row ("Sunset Special", "Fridays only")
        if candidate := _cell_candidate(document, unit, order, entity, header, value):
            found.append(replace(candidate, entity_kind=unit.cells[min(used)][0]))
    return found


def _pair_row_candidates(document: SourceDocument, unit: Unit, order: int) -> list[Candidate]:
    """A row of a two-column label/value table ("| Minimum investment | £250 |" under "| Item | Detail |"), worded
    as the "Label: value" line it is ("How much is listed for minimum investment?")."""
    (_, label), (_, value) = unit.cells
    line = Unit(f"{label}: {value}", "item", unit.heading)
    spans = [span for span in fact_spans(line.text) if span.start == len(label) + 2]
    worded = word_question(line, spans[0]) if spans else None
    if not isinstance(worded, tuple):
        return []
    question, _ = worded
    return [Candidate(question, key_forms(spans[0]), unit.text, document.name, _form(spans[0]), order,
                      _rank(question, spans[0]), label, "", spans[0].value)]


def _holder_candidates(document: SourceDocument, unit: Unit, order: int) -> list[Candidate]:
    """Who holds a post a row names ("Role: Treasurer; Name: Mr Raymond Pettifer"): "Who is the Treasurer?"."""
    headers = {header.strip().lower(): value for header, value in unit.cells}
    role = next((headers[h] for h in headers if h in _ROLE_HEADERS), "")
    person = next((headers[h] for h in headers if h in _PERSON_HEADERS), "")
    span = _cell_span(person) if person and role and len(role.split()) <= 8 else None
    if span is None or span.kind != NAME or not re.search(r"[A-Za-z]", role):
        return []
    question = f"Who is the {role.rstrip('.')}?"
    return [Candidate(question, key_forms(span), unit.text, document.name, "lookup", order, 0, role)]


def _cell_candidate(document: SourceDocument, unit: Unit, order: int, entity: str, attribute: str,
                    value: str) -> Candidate | None:
    """The question a table cell gives: ``attribute`` (its column's header, or its row's label) of ``entity``."""
    span = _cell_span(value)
    question = cell_question(entity, attribute, span) if span is not None else None
    if not question:
        return None
    return Candidate(question, key_forms(span), unit.text, document.name, _form(span), order, 1, entity, attribute,
                     span.value)


def _labelled_row_candidates(document: SourceDocument, unit: Unit, order: int) -> list[Candidate]:
    """A row of a table whose columns are the things compared and whose first cell labels the row ("Capacity
    (loaves); Oven A: 120; Oven B: 80."): a question per cell, about the column's thing ("What capacity is listed for
    Oven A, in loaves?")."""
    label = unit.cells[0][1]
    if label.strip().lower().rstrip("s") in _FREE_TEXT_HEADERS:
        return []
    cells = (_cell_candidate(document, unit, order, entity, label, value) for entity, value in unit.cells[1:])
    return [candidate for candidate in cells if candidate]


_TELLING = re.compile(r"\b(?:first|last|highest|lowest|largest|longest|oldest|newest|only|maximum|minimum|most|"
                      r"least|steepest|fastest|biggest|smallest)\b", re.IGNORECASE)


def _rank(question: str, span: Span) -> int:
    """How likely a person is to ask it (0 first): a person's name ("Who ...?"), a threshold asked as a condition,
    a first, last or highest of something, a measure with its unit; then dates, places, bare numbers and table
    cells; then years, times and codes, which documents list by the dozen."""
    if question.startswith(("Who ", "When ", "Under what condition ")) or _TELLING.search(question):
        return 0
    if span.kind == "number" and span.unit:
        return 0
    if span.kind in (YEAR, TIME, CODE):
        return 2
    return 1


def question_pattern(question: str) -> str:
    """What a question asks regardless of whom: its words with names and numbers masked ("What is the code of
    Orrisholt?" and "What is the code of Feyhaven Quay?" are both "what is the code of X"), so a small set spreads
    over kinds of fact, as a person's does."""
    words = re.findall(r"[\w’'-]+", question)
    masked = [word.lower() if index == 0 or not (word[:1].isupper() or word[:1].isdigit()) else "X"
              for index, word in enumerate(words)]
    return " ".join(word for index, word in enumerate(masked) if not (word == "X" and masked[index - 1] == "X"))


def _subject(question: str, keys: Sequence[str]) -> str:
    names = [span.text for span in fact_spans(question.rstrip("?")) if span.kind == NAME and span.text not in keys]
    return names[0] if names else ""


def salient_words(document: SourceDocument, units: Sequence[Unit]) -> frozenset[str]:
    """The words of the document's file name and headings, and the words it uses :data:`SALIENT_MENTIONS` times or
    more: what "the manual" or "the cooperative" plainly means there (a bare "the rule" or "the order" has no
    antecedent in the question)."""
    text = " ".join([Path(document.name).stem.replace("_", " ").replace("-", " "), *{u.heading for u in units}])
    counts = Counter(word.lower() for word in re.findall(r"[A-Za-z]+", document.text))
    frequent = {word for word, n in counts.items() if n + counts[f"{word}s"] >= SALIENT_MENTIONS}
    return frozenset(word.lower() for word in re.findall(r"[A-Za-z]+", text)) | frequent


def document_candidates(document: SourceDocument, refused: Counter[str] | None = None
                        ) -> tuple[list[Candidate], int]:
    """Every question the rules can word for the document, and how many fact spans it has in all; a fact a rule
    fits but would word badly is counted in ``refused`` by reason."""
    units = text_units(document.text)
    salient = salient_words(document, units)
    names = row_names(units)
    candidates: list[Candidate] = []
    spans_seen = 0
    for order, unit in enumerate(units):
        if unit.cells:
            spans_seen += max(len(unit.cells) - 1, 0)
            candidates.extend(_row_candidates(document, unit, order, names.get(order)))
            continue
        for span in fact_spans(unit.text):
            spans_seen += 1
            worded = word_question(unit, span, salient)
            if isinstance(worded, Refused):
                if refused is not None:
                    refused[f"wording refused: {worded.reason}"] += 1
                continue
            if worded is None:
                continue
            question, _ = worded
            rank = _rank(question, span)
            keys = key_forms(span)
            # Shares of different wholes do not compare ("40 percent of the members", "18 percent of turnover").
            attribute = span.unit if span.kind == "number" and span_unit_kind(span) not in ("currency", "percent") \
                else ""
            candidates.append(Candidate(question, keys, unit.text, document.name, _form(span), order, rank,
                                        _subject(question, keys), attribute, span.value))
    return candidates, spans_seen


def _check(candidate: Candidate, text: str, training: Sequence[frozenset[str]], max_overlap: float) -> str:
    """Why the candidate fails a check ("" when it passes)."""
    keys = [part[0] for part in candidate.parts] if candidate.parts else [candidate.keys[0]]
    if not all(key_in_text([key], text) for key in keys):
        return "key not found in its source document"
    if question_holds_key(candidate.question, [k for part in (candidate.parts or (candidate.keys,)) for k in part]):
        return "question contains its key"
    if candidate.form not in ("multi-fact", "comparison") and quoted_run(
            candidate.question, candidate.reference) >= QUOTE_LIMIT:
        return f"question quotes {QUOTE_LIMIT}+ words of its sentence"
    if training and highest_overlap(candidate.question, training) > max_overlap:
        return f"word overlap with a training question over {max_overlap:.2f}"
    return ""


def _unambiguous(candidates: Sequence[Candidate], dropped: Counter[str]) -> list[Candidate]:
    """The candidates less those whose question is worded the same as another's with a different key ("How much
    does a monthly pass cost?" of two passes): such a question has two right answers."""
    keys: dict[str, set[str]] = {}
    for candidate in candidates:
        keys.setdefault(_asked(candidate.question), set()).add(normal_key(candidate.keys[0]))
    kept = []
    for candidate in candidates:
        if len(keys[_asked(candidate.question)]) > 1:
            dropped["ambiguous: the same question has another answer in the document"] += 1
        else:
            kept.append(candidate)
    return kept


def _asked(question: str) -> str:
    """What a question asks, whichever wh-word opens it: "How much is the minimum charge?" and "What is the
    minimum charge?" ask the same thing, so two answers to them are one ambiguous question."""
    return re.sub(r"^(?:how much|how many|what percentage|what|who|which)\b", "what", question.casefold())


def _comparisons(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Questions on the same attribute of two entities (table columns, or numbers with the same unit)."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.attribute and candidate.entity and candidate.value is not None and candidate.form != "lookup":
            groups.setdefault(candidate.attribute, []).append(candidate)
    joined = []
    for attribute, group in sorted(groups.items()):
        if not _comparable_attribute(attribute):
            continue
        for first, second in itertools.pairwise(group):
            if first.entity == second.entity or first.value == second.value or first.entity_kind != \
                    second.entity_kind or not (_clean_entity(first) and _clean_entity(second)):
                continue
            later = first.form == "date"
            higher = max((first, second), key=lambda c: c.value or 0.0)
            name = attribute if not re.search(r"\(.*\)", attribute) else re.sub(r"\s*\(.*\)", "", attribute)
            name = name[:1].lower() + name[1:] if not name[:2].isupper() else name
            label = name if later or not name.lower().endswith("s") else f"number of {name}"
            question = comparison_question(first.entity, second.entity, label, later)
            joined.append(Candidate(question, higher.keys, f"{first.reference} {second.reference}", first.source,
                                    "comparison", first.order, max(first.rank, second.rank), first.entity,
                                    attribute))
    return joined


def _comparable_attribute(attribute: str) -> bool:
    """Whether a column or unit can be asked as "the higher <attribute>": not a year ("2023"), not a phrase that
    opens with a preposition or "until" ("at the airport", "until online check-in closes")."""
    first = attribute.split()[0].lower() if attribute.split() else ""
    return bool(first) and first[:1].isalpha() and first not in _ATTRIBUTE_OPENERS


_ATTRIBUTE_OPENERS = frozenset(["at", "in", "on", "by", "for", "from", "to", "until", "till", "before", "after",
                                "when", "if", "with", "without", "during", "per", "under", "over"])


def _clean_entity(candidate: Candidate) -> bool:
    """Whether a row's name reads as a name in "Comparing A and B": no comma ("Halfway, Nettleford Green"), not a
    column header glued to a long cell ("Item First checked bag up to 23 kg"; "Train 116" is fine)."""
    entity, kind = candidate.entity, candidate.entity_kind
    return "," not in entity and not (kind and entity.startswith(f"{kind} ") and len(entity.split()) > 2)


def _superlatives(candidates: Sequence[Candidate]) -> list[Candidate]:
    """"Which library has the fewest visits?": for a table column of numbers over three or more rows, the row with
    the highest and the one with the lowest value (none where two rows tie for it). The key is the row's name."""
    columns: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        if candidate.entity_kind and candidate.form == "number" and candidate.value is not None:
            columns.setdefault((candidate.entity_kind, candidate.attribute), []).append(candidate)
    found = []
    for (kind, attribute), column in sorted(columns.items()):
        names = {c.entity for c in column}
        if len(names) < 3 or len(names) < len(column) or any(name.startswith(f"{kind} ") for name in names):
            continue  # (rows named "Ticket Child (5 to 17)": the column holds no clean names to answer with)
        values = sorted(c.value or 0.0 for c in column)
        for highest, extreme in ((True, values[-1]), (False, values[0])):
            rows = [c for c in column if c.value == extreme]
            question = superlative_question(kind, attribute, highest) if len(rows) == 1 else None
            if question:
                row = rows[0]
                keys = tuple(dict.fromkeys([row.entity, bare_name(row.entity)]))
                found.append(Candidate(question, keys, row.reference, row.source, "comparison", row.order,
                                       0, row.entity, attribute))
    return found


def _multi_facts(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Two facts about one entity of a document asked together ("In what year was Orla built, and ...?")."""
    joined = []
    singles = [c for c in candidates if c.form in ("lookup", "number", "date") and c.rank < 2]
    for first, second in itertools.pairwise(singles):
        if first.reference == second.reference or normal_key(first.keys[0]) == normal_key(second.keys[0]):
            continue
        if not (first.entity and first.entity == second.entity):
            continue  # two facts of different things make a question no one would ask
        question = joined_question(first.question, second.question)
        reference = first.reference if first.reference == second.reference else f"{first.reference} " \
                                                                                    f"{second.reference}"
        joined.append(Candidate(question, first.keys, reference, first.source, "multi-fact", first.order, 0,
                                first.entity, parts=(first.keys, second.keys)))
    return joined


def normal_key(key: str) -> str:
    """A key as facts are matched (case, punctuation, articles and thousands separators ignored)."""
    return normalise_answer(key)


def _quotas(facts: dict[str, int], budget: int, available: dict[str, int]) -> dict[str, int]:
    """Questions per document in proportion to its facts (largest remainder), at least two when it has two, at
    most as many as it has questions."""
    total = sum(facts.values())
    if total == 0:
        return dict.fromkeys(facts, 0)
    exact = {name: budget * n / total for name, n in facts.items()}
    quotas = {name: math.floor(value) for name, value in exact.items()}
    left = budget - sum(quotas.values())
    for name in sorted(exact, key=lambda name: (-(exact[name] - quotas[name]), name))[:max(left, 0)]:
        quotas[name] += 1
    return {name: min(available[name], max(quotas[name], min(MIN_PER_DOCUMENT, facts[name]))) for name in facts}


class _Picker:
    """Accepts questions one by one, refusing near-duplicates and a fact already asked (by a single-fact question,
    or by a joined one for joined ones: a multi-fact question does not stand in for its facts' own questions)."""

    def __init__(self, dropped: Counter[str]) -> None:
        self.kept: list[Candidate] = []
        self.words: list[frozenset[str]] = []
        self.references: list[str] = []
        self.facts: set[tuple[str, str]] = set()  # asked by a single-fact question
        self.joined: set[tuple[str, str]] = set()  # the key of a multi-fact or comparison question
        self.dropped = dropped

    def take(self, candidate: Candidate) -> bool:
        single = candidate.form in ("lookup", "number", "date")
        facts = {(candidate.source, normal_key(candidate.keys[0]))}
        if facts & (self.facts if single else self.joined):
            self.dropped["same fact already asked"] += 1
            return False
        words = content_words(candidate.question)
        # Two facts of one sentence asked alike are two questions ("From what date ...?", "Until what date ...?").
        if any(word_overlap(words, other) >= NEAR_DUPLICATE and not (
                reference == candidate.reference and kept.question != candidate.question and single)
               for other, reference, kept in zip(self.words, self.references, self.kept, strict=True)):
            self.dropped["near-duplicate of another question"] += 1
            return False
        self.kept.append(candidate)
        self.words.append(words)
        self.references.append(candidate.reference)
        if single:
            self.facts |= facts
        else:
            self.joined |= facts
        return True


def _interleave(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """The most telling facts first (:func:`_rank`); within a rank, the forms in turn (lookup, number, date), each
    form's order shuffled; a kind of question already asked moves back (:func:`question_pattern`)."""
    ordered: list[Candidate] = []
    for rank in range(4):
        buckets = {form: [c for c in candidates if c.form == form and c.rank == rank] for form in FORMS[:3]}
        for bucket in buckets.values():
            rng.shuffle(bucket)
        while any(buckets.values()):
            for form in FORMS[:3]:
                if buckets[form]:
                    ordered.append(buckets[form].pop())
    # A question of a kind already asked waits a rank per earlier one ("What is the code of X?" once, then the
    # other kinds, before the next code).
    seen: Counter[str] = Counter()
    keyed = []
    for position, candidate in enumerate(ordered):
        pattern = question_pattern(candidate.question)
        keyed.append((candidate.rank + 2 * seen[pattern], position, candidate))
        seen[pattern] += 1
    return [candidate for _, _, candidate in sorted(keyed, key=lambda item: (item[0], item[1]))]


def _row(number: int, candidate: Candidate, seed: int) -> dict:
    item_id = f"gen-{number:03d}"
    keys = list(candidate.keys)
    row = {"id": item_id, "question": candidate.question, "reference": candidate.reference,
           "key": keys[0] if len(keys) == 1 else keys, "source": candidate.source,
           "type": FORM_TYPES[candidate.form], "form": candidate.form, "split": _split(item_id, seed)}
    if candidate.parts:
        row["keys_all"] = [list(part) for part in candidate.parts]
    return row


def _split(item_id: str, seed: int) -> str:
    return "dev" if random.Random(f"split:{seed}:{item_id}").random() < DEV_SHARE else "test"


def append_out_of_corpus(items: list[dict], documents: Sequence[SourceDocument], wanted: int, *, seed: int,
                         retrieve: Retrieve | None, dropped: Counter[str]) -> None:
    """Add up to ``wanted`` out-of-corpus rows after ``items`` (numbered on from them), counting what the checks
    dropped and any shortfall in ``dropped``; both generators end their sets with these."""
    unanswerable, ooc_dropped = out_of_corpus_questions([d.text for d in documents], wanted, seed=seed,
                                                        retrieve=retrieve)
    dropped.update(ooc_dropped)
    if len(unanswerable) < wanted:
        dropped["out-of-corpus: fewer templates fit than asked for"] += wanted - len(unanswerable)
    for question in unanswerable:
        item_id = f"gen-{len(items) + 1:03d}"
        items.append({"id": item_id, "question": question.question, "reference": "The documents do not say.",
                      "source": "", "type": OUT_OF_CORPUS, "form": OUT_OF_CORPUS, "split": _split(item_id, seed),
                      "answerable": False})


def generate_question_set(documents: Sequence[SourceDocument], *, count: int = DEFAULT_COUNT,
                          out_of_corpus: int | None = None,
                          seed: int = 0, training_questions: Sequence[str] = (),
                          max_overlap: float = MAX_TRAINING_OVERLAP, retrieve: Retrieve | None = None,
                          progress: Progress | None = None) -> GeneratedSet:
    """A checked question set of at most about ``count`` questions from ``documents`` (see the module docstring):
    one per distinct checkable fact until ``count`` is reached, so the default (:data:`DEFAULT_COUNT`) asks about
    every fact of a small corpus.

    ``out_of_corpus``: how many unanswerable questions (default: 15% of the set, at least one); ``retrieve``:
    a search over the collection (question -> passages), used to check that no passage answers an out-of-corpus
    question. Each document with at least two checkable facts gets at least two questions, even when that takes
    the set over ``count``. Same documents and seed: the same set, byte for byte."""
    if count < 1:
        raise QuestionGenerationError("count must be at least 1")
    if not documents:
        raise QuestionGenerationError("no documents to generate questions from")
    report = progress or (lambda fraction, message: None)
    rng = random.Random(f"questions:{seed}")
    training = [content_words(question) for question in training_questions if question.strip()]
    dropped: Counter[str] = Counter()
    reports: dict[str, DocumentReport] = {}
    passing: dict[str, list[Candidate]] = {}
    for number, document in enumerate(sorted(documents, key=lambda d: d.name)):
        report(0.7 * number / len(documents), f"Reading the facts of {document.name}")
        candidates, spans = document_candidates(document, dropped)
        superlatives = _superlatives(candidates)  # over every row of a column, before a tied value is dropped
        candidates = _unambiguous(candidates, dropped)
        candidates += superlatives + _comparisons(candidates) + _multi_facts(candidates)
        kept = []
        for candidate in candidates:
            why = _check(candidate, document.text, training, max_overlap)
            if why:
                dropped[why] += 1
            else:
                kept.append(candidate)
        facts = len({c.reference for c in kept if c.form in FORMS[:3]})  # statements: a sentence or row counts once
        reason = "" if facts else ("no checkable fact (no number, date, code or name)" if spans == 0 else
                                   "no fact could be worded as a question that passes the checks"
                                   if candidates else "no fact could be worded as a question")
        reports[document.name] = DocumentReport(facts, 0, reason)
        passing[document.name] = kept
        if reason:
            dropped[f"document without questions: {reason}"] += 1
    if not any(r.facts for r in reports.values()):
        raise QuestionGenerationError("no document holds a checkable fact: " + "; ".join(
            f"{name}: {r.reason}" for name, r in reports.items()))
    n_ooc = out_of_corpus if out_of_corpus is not None else max(1, math.ceil(count * OUT_OF_CORPUS_SHARE))
    quotas = _quotas({name: r.facts for name, r in reports.items()}, max(count - n_ooc, 0),
                     {name: len(kept) for name, kept in passing.items()})
    picker = _Picker(dropped)
    joined_target = round(max(count - n_ooc, 0) * JOINED_SHARE)
    for name in sorted(passing):
        report(0.7 + 0.2 * len(picker.kept) / max(count, 1), f"Choosing the questions of {name}")
        quota, kept = quotas[name], passing[name]
        share = joined_target * quota / max(sum(quotas.values()), 1)
        taken = 0
        for form in ("comparison", "multi-fact"):
            pool = [c for c in kept if c.form == form]
            rng.shuffle(pool)
            pool.sort(key=lambda c: c.rank)  # a superlative (rank 0) reads as a person asks, before "Comparing ..."
            wanted = min(len(pool), math.floor(share + rng.random()), max(quota - MIN_PER_DOCUMENT, 0))
            for candidate in pool:
                if wanted <= 0 or taken >= quota:
                    break
                if picker.take(candidate):
                    wanted, taken = wanted - 1, taken + 1
        for candidate in _interleave(kept, rng):
            if taken >= quota:
                break
            taken += picker.take(candidate)
        reports[name].questions = taken
    chosen = sorted(picker.kept, key=lambda c: (c.source, c.order, c.question))
    items = [_row(number, candidate, seed) for number, candidate in enumerate(chosen, start=1)]
    if out_of_corpus is None:  # 15% of the set made, not of the cap: a corpus with few facts gets few
        n_ooc = min(n_ooc, max(1, -(-len(items) * 15 // 85)))
    report(0.9, "Writing the out-of-corpus questions")
    append_out_of_corpus(items, documents, n_ooc, seed=seed, retrieve=retrieve, dropped=dropped)
    highest = max((highest_overlap(item["question"], training) for item in items), default=0.0) if training else 0.0
    report(1.0, f"{len(items)} questions")
    return GeneratedSet(items, dropped, reports, round(highest, 3), max_overlap, seed)


def write_question_set(path: Path, generated: GeneratedSet) -> Path:
    """Write the set as JSONL atomically (a reader sees the old file or the whole new one)."""
    write_text_atomically(path, generated.to_jsonl())
    return path
