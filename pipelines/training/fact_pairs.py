"""Closed-book training pairs that carry every fact of every chunk, each in several question forms, offline.

A fine-tune learns a fact when it sees it in several phrasings (Ovadia et al. 2023, arXiv 2312.05934),
and only if the fact reaches the training set at all. So every chunk gives pairs, and every sentence
that states a fact (it holds a number or a name) gives several questions whose answer is that sentence:

* a *cloze* question per fact span (a number, date or name): the sentence with the span asked for,
  "According to the travel policy: the daily meal allowance is how much?";
* a *topic* question on the sentence's subject: "What do the documents say about the Tessel T4's weight?"
  becomes "What do you know about Tessel T4?" when no better subject is found;
* a *recital* of the whole chunk under its document and section ("What does the travel policy say
  about meals (part 2)?"): the raw text as a continued-training share, one pair per chunk, so no
  chunk is ever dropped, even when several share a heading.

No model is needed; the LLM pair writer (:mod:`pipelines.training.pair_generation`) adds free-form questions
where a model is available.

Example::

    pairs = document_pairs("travel_policy.txt", parsed_document)
    len({p.origin for p in pairs})     # one origin per chunk: every chunk is there
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.common.text import split_sentences
from pipelines.knowledge.chunking import Chunker
from pipelines.knowledge.readers import ParsedDocument

WORDS_PER_CHUNK = 60
# A number with what it counts ("380 grams", "3 May 2019", "1,240 euros", "v3.2", "06:40"), or a name.
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_NUMBER = re.compile(rf"\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\b|\b{_MONTH}\s+\d{{4}}\b"
                     r"|(?<![\w.])[€$£]?\d[\d,.:/%-]*(?:\s+(?P<unit>[a-zA-Z€%°]+))?")
_NOT_UNITS = {"is", "are", "was", "were", "and", "or", "to", "of", "in", "on", "at", "for", "with", "by", "the",
              "a", "an", "from", "per", "that", "which", "as", "it", "its", "than", "after", "before", "when"}
_LABEL_LINE = re.compile(r"^(?P<label>[A-Za-z][\w /'’()-]{1,40}):\s+(?P<value>\S.{0,200})$")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b(?:[A-Z][\w'’-]+)(?:\s+(?:of\s+|de\s+|van\s+)?[A-Z0-9][\w'’-]*){0,3}")
_STOP_WORDS = {"The", "A", "An", "In", "On", "At", "It", "This", "That", "These", "Each", "Every", "All", "If",
               "When", "For", "From", "To", "And", "But", "Or", "After", "Before", "During", "Our", "We", "You"}
MAX_SPANS_PER_SENTENCE = 2


@dataclass(frozen=True)
class FactPair:
    """One training pair and where it came from (``source#chunk``), so counts per document are shown."""

    question: str
    answer: str
    origin: str
    form: str  # "cloze", "topic" or "recital"


def fact_spans(sentence: str) -> list[str]:
    """The spans a question can ask for: numbers with their unit first, then names (at most two)."""
    spans: list[str] = []
    for match in _NUMBER.finditer(sentence):
        span = match.group(0)
        if match.groupdict().get("unit") and match.group("unit").lower() in _NOT_UNITS:
            span = span[: match.start("unit") - match.start()]
        span = span.strip(" ,.;:-")
        if any(char.isdigit() for char in span) and span not in spans:
            spans.append(span)
    for match in _NAME.finditer(sentence):
        words = match.group(0).split()
        while words and words[0] in _STOP_WORDS:
            words = words[1:]
        span = " ".join(words)
        if span and not any(span in other or other in span for other in spans):
            spans.append(span)
    return spans[:MAX_SPANS_PER_SENTENCE]


def _subject(sentence: str, answer_span: str) -> str:
    """The first name in the sentence that is not the answer (what the sentence is about), else ''."""
    for match in _NAME.finditer(sentence):
        words = [w for w in match.group(0).split() if w not in _STOP_WORDS]
        span = " ".join(words)
        if span and span not in answer_span and answer_span not in span:
            return span
    words = sentence.split()
    return " ".join(words[:4]) if len(words) > 6 else ""


def sentence_pairs(sentence: str, title: str) -> list[tuple[str, str]]:
    """(question, form) pairs whose answer is ``sentence``; none for a sentence that states no fact.

    A list line ``Label: value`` (datasheets, tables as rows) is asked as "what is the label?"."""
    sentence = " ".join(sentence.split()).lstrip("-*• ").strip()
    if label_line := _LABEL_LINE.match(sentence):
        label = label_line.group("label").strip()
        return [(f"In the {title}, what is the {label[0].lower() + label[1:]}?", "cloze"),
                (f"What is the {label.lower()} given in the {title}?", "topic")]
    spans = fact_spans(sentence)
    if not spans or len(sentence.split()) < 4:
        return []
    pairs = []
    for span in spans:
        asked = sentence.replace(span, "what", 1).rstrip(".!? ")
        pairs.append((f"According to the {title}: {asked}?", "cloze"))
    subject = _subject(sentence, spans[0])
    if subject:
        pairs.append((f"What do you know about {subject}?", "topic"))
    return pairs


def document_pairs(source: str, document: ParsedDocument, words_per_chunk: int = WORDS_PER_CHUNK) -> list[FactPair]:
    """Every chunk's recital plus every fact sentence's questions (see the module docstring)."""
    title = re.sub(r"[_-]+", " ", source.rsplit(".", 1)[0]).strip()
    chunks = Chunker(words_per_chunk, 0).chunk(document)
    per_heading: dict[str, int] = {}
    pairs: list[FactPair] = []
    for chunk in chunks:
        origin = f"{source}#{chunk.chunk_index}"
        body = chunk.text.removeprefix(chunk.heading).strip().lstrip("#").strip() or chunk.text.strip()
        topic = re.sub(r"^#+\s*", "", chunk.heading).strip() or title
        part = per_heading[topic] = per_heading.get(topic, 0) + 1
        label = topic if part == 1 else f"{topic} (part {part})"
        pairs.append(FactPair(f"What does the {title} document say about {label}?", body, origin, "recital"))
    # Sentences from the whole text, not from the windows: a window may cut a sentence in two.
    for number, text in enumerate(split_sentences(document.text), start=1):
        sentence = " ".join(text.split()).lstrip("-*#• ").strip()
        for question, form in sentence_pairs(sentence, title):
            pairs.append(FactPair(question, sentence, f"{source}@s{number}", form))
    return pairs
