"""Question types, so the verdict can say *where* each approach wins: tagged by the set, else by rules.

The five types (one per question):

* ``out-of-corpus``: no document holds the answer; the right answer says so. Only the set can say this
  (``"type": "out-of-corpus"`` or ``"answerable": false``): no rule can tell an unanswerable question from
  one whose answer is simply not keyed.
* ``updated``: the question's source document was added or changed after the active adapter's training
  data was made (see :func:`source_updated`): the fine-tuned column cannot know the new fact.
* ``multi-fact``: the answer spans two passages: the question names two sources (a list, or ``a.md|b.md``),
  or it joins two asks ("Who founded it *and when*?", "...*both*...", "...*as well as*...").
* ``number``: a quantity, date or amount: the canonical (first) key holds a number ("380 grams", "1,240
  euros"), a number word ("four years") or a month ("June 2022"); or the question asks "how many / how
  much / how long / when / what year...". A version ("3.2" for "which version") is a name, not a quantity.
* ``lookup``: a name or term: every other question, and every "who" or "where" question.

The first that applies wins, in that order (the most telling type first: an updated fact explains a
fine-tuned miss whatever its form). A type the set gives is kept as given, rules or not: the user's tag
is the last word (the Evaluation tab lets them edit it, out-of-corpus aside:
:mod:`pipelines.evaluation.question_tags` keeps the edits and applies them as if the set gave them).

Example::

    tag_question(QuestionItem("How much does a Tessel T4 weigh?", keys=("380 grams",)))
    # QuestionTag(type='number', reason='the key "380 grams" holds a quantity', declared=False)
    rule_type("Who founded Lumenhollow and when?").type                        # 'multi-fact'
    adapter = AdapterData.from_metadata({"created_at": "2026-12-01T15:55:01+00:00", "data_hash": "cddb..."})
    source_updated(DocumentStamp("travel_policy.txt", modified_at=datetime(2027, 1, 5, tzinfo=UTC)), adapter)
    # True: changed after the adapter's data
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

LOOKUP = "lookup"
NUMBER = "number"
MULTI_FACT = "multi-fact"
UPDATED = "updated"
OUT_OF_CORPUS = "out-of-corpus"
QUESTION_TYPES: tuple[str, ...] = (LOOKUP, NUMBER, MULTI_FACT, UPDATED, OUT_OF_CORPUS)

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_NUMBER_WORDS = ("zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
                 "hundred|thousand|million|billion|dozen|half|quarter|once|twice|first|second|third|fourth")
# A token that starts with a number (380, 1,240, 2.5, 15%, €68, 3rd, 60m), a number word, or a month: "T4" and
# "Q3" are names.
_QUANTITY = re.compile(
    rf"(?:^|[\s(~])[$€£]?\d[\d,.]*(?:%|[a-z]{{1,3}})?(?=$|[\s),.;:/-])|\b(?:{_NUMBER_WORDS}|{_MONTHS})\b|[$€£%]",
    re.IGNORECASE)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|old|far|fast|often|heavy|big|large|tall|deep|high|wide|soon)\b|^\s*when\b|"
    r"\bwhat (?:year|date|day|month|time|percentage|share|price|amount|number)\b|\bin which year\b",
    re.IGNORECASE)
_ASKS_NAME = re.compile(r"^\s*(?:who|whom|whose|where)\b|\bversion\b", re.IGNORECASE)
_JOINS_TWO_ASKS = re.compile(
    r"\band (?:also )?(?:who|whom|whose|what|when|where|which|why|how)\b|\bboth\b|\bas well as\b|\bcompare\b",
    re.IGNORECASE)


def normalise_type(value: str) -> str:
    """``Multi fact``, ``multi_fact`` and ``MULTI-FACT`` are all ``multi-fact``; unknown names are kept as
    written (lower case) for the caller to refuse."""
    return re.sub(r"[\s_]+", "-", value.strip().lower())


@dataclass(frozen=True)
class QuestionTag:
    """A question's type and why: ``declared`` when the set gave it, else the rule that chose it."""

    type: str
    reason: str
    declared: bool = False


def source_list(source: str) -> tuple[str, ...]:
    """The documents a question's ``source`` names: one, or several separated by ``|``."""
    return tuple(part.strip() for part in source.split("|") if part.strip())


def rule_type(question: str, keys: Sequence[str] = (), *, source: str = "", updated: bool = False) -> QuestionTag:
    """The type by rules alone (see the module docstring); ``updated``: the source changed after the
    adapter's data (:func:`source_updated`)."""
    if updated:
        return QuestionTag(UPDATED, f"{source or 'its source'} changed after the adapter's training data")
    if len(source_list(source)) > 1:
        return QuestionTag(MULTI_FACT, "its answer is in more than one document")
    joined = _JOINS_TWO_ASKS.search(question)
    if joined:
        return QuestionTag(MULTI_FACT, f'the question joins two asks ("{joined.group(0).lower()}")')
    asks_name = _ASKS_NAME.search(question)
    if asks_name:
        return QuestionTag(LOOKUP, f'the question asks for a name or place ("{asks_name.group(0).strip().lower()}")')
    if keys and _QUANTITY.search(keys[0]):
        return QuestionTag(NUMBER, f'the key "{keys[0]}" holds a quantity')
    asks_number = _ASKS_NUMBER.search(question)
    if asks_number:
        return QuestionTag(NUMBER, f'the question asks for a quantity ("{asks_number.group(0).strip().lower()}")')
    return QuestionTag(LOOKUP, "a name or term")


class TaggedQuestion(Protocol):
    """What tagging reads of a question (:class:`pipelines.common.questions.QuestionItem` is one; the question
    loader imports this module for the type names, so this one does not import it back)."""

    question: str
    keys: tuple[str, ...]
    source: str
    type: str


def tag_question(item: TaggedQuestion, *, updated_sources: Iterable[str] = ()) -> QuestionTag:
    """The set's own type when it gives one, else :func:`rule_type`; ``updated_sources``: the documents
    added or changed after the active adapter's training data (:func:`updated_sources`)."""
    if item.type:
        return QuestionTag(item.type, "given by the question set", declared=True)
    changed = set(updated_sources)
    updated = bool(changed) and any(source in changed for source in source_list(item.source))
    return rule_type(item.question, item.keys, source=item.source, updated=updated)


def _utc(value: datetime | str | float | None) -> datetime | None:
    """A timestamp as an aware UTC datetime: ISO text (the adapter's ``created_at``), a file's mtime, or a
    datetime (naive ones are taken as UTC, as the store writes them); None or unreadable text gives None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class AdapterData:
    """What is known of the active adapter's training data: when it was made (``created_at`` of
    ``arena_adapter.json``), its ``data_hash`` (the pairs' digest: which data version), and, when the run
    recorded them, each document's digest at training time (``document_hashes``: name -> sha256)."""

    trained_at: datetime | None
    data_hash: str = ""
    document_hashes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, meta: Mapping[str, object]) -> AdapterData:
        """From an adapter's ``arena_adapter.json`` (odd or missing fields read as unknown)."""
        hashes = meta.get("document_hashes")
        data_hash = meta.get("data_hash")
        return cls(_utc(meta.get("created_at") if isinstance(meta.get("created_at"), str) else None),
                   data_hash if isinstance(data_hash, str) else "",
                   {str(k): str(v) for k, v in hashes.items()} if isinstance(hashes, Mapping) else {})


@dataclass(frozen=True)
class DocumentStamp:
    """A document's name, when it was last changed, and its digest (either may be unknown)."""

    name: str
    modified_at: datetime | str | float | None = None
    sha256: str = ""

    @classmethod
    def of_file(cls, path: Path) -> DocumentStamp:
        """The stamp of a file in the documents folder: its mtime and the sha256 of its bytes."""
        return cls(path.name, path.stat().st_mtime, hashlib.sha256(path.read_bytes()).hexdigest())


def source_updated(document: DocumentStamp, adapter: AdapterData | None) -> bool:
    """Whether the document was added or changed after the adapter's training data.

    With the digests the run recorded: a document missing from them was added since, one whose digest differs
    was changed (exact, whatever the clocks say). Without them: changed after the adapter was made, by time.
    Nothing known (no adapter, no times): False, since an unknown cannot be reported as an update.

    Times are a weak signal: a fresh clone or a copied folder gives every file the copy's time, so by time
    alone every shipped document looks changed after a shipped adapter. The digests are exact; a training
    run that records ``document_hashes`` in ``arena_adapter.json`` makes this rule exact.
    """
    if adapter is None:
        return False
    if adapter.document_hashes:
        recorded = adapter.document_hashes.get(document.name)
        return recorded is None or (bool(document.sha256) and recorded != document.sha256)
    modified, trained = _utc(document.modified_at), adapter.trained_at
    return modified is not None and trained is not None and modified > trained


def updated_sources(documents: Iterable[DocumentStamp], adapter: AdapterData | None) -> frozenset[str]:
    """The names of the documents :func:`source_updated` finds changed, for :func:`tag_question`."""
    return frozenset(d.name for d in documents if source_updated(d, adapter))
