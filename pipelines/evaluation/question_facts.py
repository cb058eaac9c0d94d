"""Checkable facts in a document's text: the units (sentences, list items, table rows) and the spans a question
can ask for (numbers with units, dates, times, codes, names), each with its acceptable key forms.

No model: regular expressions over the text as :mod:`pipelines.knowledge.readers` reads it (Markdown tables,
HTML tables as ``Header: cell; Header: cell.`` lines, DOCX tables as ``a | b | c`` rows, ``#`` headings, and the
``Section 3: Title`` lines of plain-text manuals). The question generator words a question for each span
(:mod:`pipelines.evaluation.question_wording`); a span it cannot word is not a fact.

Example::

    units = text_units("# Fleet\\n\\nMV Annick Marrow can carry 24 cars and 180 passengers.")
    spans = fact_spans(units[0].text)
    spans[0].text, spans[0].kind, key_forms(spans[0])   # '24 cars', 'number', ('24 cars', '24')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lemminflect import getAllLemmas, getInflection

from pipelines.common.text import split_sentences

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December")
NUMBER, DATE, YEAR, TIME, CODE, NAME = "number", "date", "year", "time", "code", "name"

_HEADING = re.compile(r"^(?:#{1,6}\s+(?P<md>.+)|(?P<section>(?:Section|Part|Chapter)\s+\w+[:.]\s*.+))$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(?P<text>.+)$")
_EMPHASIS = re.compile(r"\*\*|__")
#: An indented "Label: value" line of a plain-text list (no bullet): its own unit, not part of a paragraph.
_INDENTED_LABEL = re.compile(r"^[A-Z][\w ’'()/,-]{1,50}:\s+\S.{0,80}$")
#: The dot leaders of a price-list line ("Annual booster ......... £62.00"): a label and its value, one fact each
#: (the wording's label rule splits the line at them).
DOT_LEADER = r"\s*\.{4,}\s*"
_DOT_LEADER_LINE = re.compile(rf"^\S.*?\S{DOT_LEADER}\S")
_MD_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}")
_NAMED_CELLS = re.compile(r"^(?:[^:;|]{1,40}: [^;|]+; )+[^:;|]{1,40}: [^;|]+\.?$")
#: A row of a table whose first column holds row labels under an empty corner cell (an HTML table read as
#: "Capacity (loaves); Oven A: 120; Oven B: 80."): the label, then cells named by their column.
_LABELLED_CELLS = re.compile(r"^(?P<label>[^:;|]{1,40}); (?P<cells>(?:[^:;|]{1,40}: [^;|]+; )*[^:;|]{1,40}: [^;|]+)"
                             r"\.?$")

_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
#: A date, with its weekday when it has one ("Saturday 13 December 2025" is one fact, not a day and a date).
_DATE = re.compile(rf"\b(?:(?:{_WEEKDAYS}),?\s+)?(?:\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?|(?:{MONTHS})\s+"
                   rf"\d{{4}})\b")
_TIME = re.compile(r"\b(?:(?:1[0-2]|0?[1-9])(?:[.:][0-5]\d)?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)"  # "8pm", "10.30 am"
                   r"|(?:[01]?\d|2[0-3]):[0-5]\d\b)")
#: An amount in pence ("25p", "14.2p per kWh"): money, though no currency sign stands before it.
_PENCE = re.compile(r"(?<![\w.,£€$])(?P<value>\d+(?:\.\d+)?)p(?!\w)")
#: What a rate is per, after an amount: "£265 per metre", "£0.62 per gross tonne", "£22.60 a week" (not "per cent").
_RATE = re.compile(r"\s+(?:per\s+(?!cent\b)(?P<per>[A-Za-z]+(?:\s+[a-z]+)?)|(?:a|an)\s+(?P<each>week|day|month|year|"
                   r"night|hour|head|person|pupil|visit|call|trip|session|lesson|litre|mile|metre|kilometre)\b)")
#: Words a rate is per that need no second word ("per person sharing" is per person).
_RATE_UNITS = frozenset(["person", "head", "adult", "child", "pupil", "member", "day", "night", "week", "month", "year",
                         "hour", "minute", "visit", "call", "trip", "metre", "meter", "mile", "kilometre", "km",
                         "litre", "kilogram", "kg", "tonne", "ton", "unit", "item", "plot", "pitch", "vehicle"])
#: Letters after a person's name (degrees, memberships): "Dr Ingrid Halvorsen-Pryce BVSc MRCVS" names Ingrid.
_POST_NOMINAL = re.compile(r"^(?:[A-Z][A-Za-z]{0,4}[A-Z][A-Za-z]{0,4}|(?:B|M)(?:Sc|A|Ed|Eng|Phil)|Ph\.?D|MD)$")
_YEAR = re.compile(r"(?<![\w.,/-])(?:1[6-9]\d\d|20\d\d)(?![\w/%:-]|[.,]\d)")
# A number, then at most two words of unit ("24 cars", "1.4 megawatt-hours", "7.80 drell", "30 km/h", "4.5%").
_NUMBER = re.compile(r"(?<![\w.,:/-])(?P<currency>[€$£])?(?P<value>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                     r"(?P<unit>\s?%|\s?°C|\s+(?:per cent|percent)|\s+[A-Za-zÀ-ÿ][\w/°'-]*(?:\s+(?:DC|AC))?)?"
                     r"(?![\w/]|:\d)")  # "10:30" is a time; "180 credits: six modules ..." a count
_CODE = re.compile(r"(?<![\w-])(?:[A-Z]{1,5}-[A-Z0-9]+(?:-[A-Z0-9]+)*|[A-Z]{1,3}\s?\d{1,3}|[A-Z]{3,4})(?![\w-])")
#: A standard or norm named by its body and number ("ISO 9001", "ISO/IEC 27001", "EN 14960").
_STANDARD = re.compile(r"(?<![\w/-])(?!EUR|USD|GBP|CHF|AUD|CAD)(?:[A-Z]{2,5}(?:/[A-Z]{2,5})?)\s\d{3,6}(?:-\d+)*"
                       r"(?![\w.,]\d)")
#: A numbered reference: a capitalised noun and its number ("Article 7", "Section 4.2", "Platform 3", "Route 12B").
_REFERENCE = re.compile(r"(?<![\w-])(?P<noun>[A-Z][a-z]{2,})\s+(?P<number>\d{1,3}(?:\.\d{1,3})*[A-Za-z]?)(?!\w|[,.]\d)")
_NAME = re.compile(r"(?:(?:MV|SS|MS|HMS|RMS|St\.?)\s+)?(?:[A-Z][\w'’-]*[a-z][\w'’-]*)"
                   r"(?:\s+(?:(?:of|de|van|von|and)\s+(?:the\s+)?)?"
                   r"(?:[A-Z][\w'’-]*[a-z][\w'’-]*|[IVX]+|\d+))*")
_NOT_UNITS = frozenset(
    ["is", "are", "was", "were", "and", "or", "to", "of", "in", "on", "at", "for", "with", "by", "the", "a", "an",
     "from", "per", "that", "which", "as", "it", "its", "than", "after", "before", "when", "if", "but", "so", "he",
     "she", "they", "we", "each", "every", "all", "this", "these", "those", "who", "whom", "whose", "where", "while",
     "until", "since", "into", "onto", "over", "under", "up", "down", "more", "less", "most", "least", "about",
     "around", "between", "among", "no", "not", "one", "two", "also", "only", "then", "there", "here", "has", "have",
     "had", "be", "been", "being", "do", "does", "did", "can", "could", "may", "might", "must", "shall", "should",
     "will", "would", "pm", "am"])
#: Units written with a capital: "2 TB", "400 V", "1.4 MWh" (any other capital word after a number is a name).
_UPPER_UNITS = frozenset(["DC", "AC", "V", "Th", "°C", "KB", "MB", "GB", "TB", "PB", "kW", "MW", "GW", "kWh", "MWh",
                          "GWh", "Hz", "MHz", "GHz", "Mbps", "Gbps", "°F", "Wp", "kWp", "MWp", "GWp", "kVA", "MVA",
                          "kPa", "MPa", "kN"])
_STOP_NAMES = frozenset(
    ["The", "A", "An", "In", "On", "At", "It", "This", "That", "These", "Those", "Each", "Every", "All", "If", "When",
     "For", "From", "To", "And", "But", "Or", "After", "Before", "During", "Our", "We", "You", "He", "She", "They",
     "His", "Her", "Their", "Its", "There", "Here", "Since", "Under", "Over", "Between", "Because", "Although",
     "While", "Where", "Who", "What", "Which", "No", "Not", "One", "Any", "Some", "Many", "Most", "Only", "Also",
     "Then", "Today", "Currently", "Until", "Unlike", "As", "By", "With", "Without"])
#: Capitalised words of a post that stand before a person's name ("Head Keeper Rosalind Tarrant-Briggs").
_ROLE_NAMES = frozenset(["head", "keeper", "chief", "director", "manager", "officer", "chair", "secretary",
                         "treasurer", "warden", "coordinator", "curator", "conductor", "captain", "inspector",
                         "superintendent", "principal", "headteacher", "registrar", "clerk", "steward", "senior",
                         "deputy", "assistant", "engineer", "master", "harbourmaster", "ranger", "matron", "vicar",
                         "reverend", "rev", "coach", "president", "vice-president", "vice-chair"])
#: Words that stand before a person's name without being part of it ("Dr.", "Councillor Maureen Oyelaran").
_TITLE_NAMES = ("Dr", "Prof", "Professor", "Mr", "Mrs", "Ms", "Miss", "Councillor", "Councilor", "Doctor", "Dame",
                "Sir", "Captain", "Alderman")
TITLE = re.compile(rf"(?:{'|'.join(_TITLE_NAMES)})\.?\s+")
#: What comes before a person's name ("Dr.", "by", "councillor"): a name after it that goes on with "of ..." is
#: the person, and the "of ..." says where they are from ("Maren Okafor of Amberley Cross").
_PERSON_BEFORE = re.compile(r"(?:\b(?:Dr|Prof|Mr|Mrs|Ms|Sir|Dame)\.?|\bby|\b[a-z]{4,}(?:or|er|ist|ian|ant|ent|man|"
                            r"woman))\s+$")
_MONTH_OR_DAY = re.compile(rf"^(?:{MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)$")
_ROMAN = re.compile(r"^[IVX]+$")
_CURRENCY_WORDS = frozenset(["drell", "pennets", "pennet", "stivers", "stiver", "thalers", "thaler", "th", "euros",
                             "euro", "eur", "dollars", "dollar", "usd", "pounds", "pound", "gbp", "francs", "franc",
                             "crowns", "crown", "marks", "mark"])
_TIME_UNITS = frozenset(["seconds", "second", "minutes", "minute", "hours", "hour", "days", "day", "weeks", "week",
                         "months", "month", "years", "year", "nights", "night"])


@lru_cache(maxsize=8192)
def verb_lemma(word: str) -> str:
    """The verb's dictionary form, or "" when the lexicon does not know the word as a verb (lemminflect)."""
    lemmas = getAllLemmas(word.lower())
    found = lemmas.get("VERB") or lemmas.get("AUX")
    return found[0] if found else ""


@lru_cache(maxsize=8192)
def verb_form(word: str) -> str:
    """The Penn tag of a verb form: "VBZ" ("takes"), "VB" ("run", "take"), "VBD" ("sold", "counted"), "VBN"
    ("taken"), "VBG" ("selling"); "" for a word that is not a verb."""
    base = verb_lemma(word)
    lower = word.lower()
    for tag in ("VBZ", "VB", "VBD", "VBN", "VBG"):
        if base and lower in getInflection(base, tag):
            return tag
    return ""


def has_form(word: str, tag: str) -> bool:
    """Whether ``word`` is the verb form ``tag`` of its lemma ("counted" and "held" are "VBN" forms)."""
    base = verb_lemma(word)
    return bool(base) and word.lower() in getInflection(base, tag)


def can_be(upos: str, word: str) -> bool:
    """Whether the lexicon knows ``word`` as the part of speech ``upos`` ("NOUN", "ADJ"): "crew" can be a noun
    (and the past of "crow"), "hot" an adjective."""
    return upos in getAllLemmas(word.lower())


def is_plural_noun(word: str) -> bool:
    """Whether the lexicon knows ``word`` as a plural noun ("sailings", "nests"; not "class")."""
    lemmas = getAllLemmas(word.lower()).get("NOUN")
    return bool(lemmas) and lemmas[0] != word.lower()


def is_noun(word: str) -> bool:
    """Whether the lexicon knows the word as a noun and it is not an inflected verb ("festival", "boat"; not
    "runs", "opened")."""
    return "NOUN" in getAllLemmas(word.lower()) and verb_form(word) in ("", "VB")


@dataclass(frozen=True)
class Unit:
    """A stretch of text that states facts: a sentence, a list item, or a table row.

    ``cells``: a table row's (header, value) pairs (headers may be ``""`` when the table has none);
    ``heading``: the section it sits under; ``previous``: the sentence before it in its paragraph (for "she");
    ``group``: for a line of an indented plain-text list, the less indented line it sits under ("Cats" above
    "Annual booster .... £58.00"), which tells apart lines that name the same thing.
    """

    text: str
    kind: str  # "sentence", "item" or "row"
    heading: str = ""
    cells: tuple[tuple[str, str], ...] = ()
    previous: str = ""
    group: str = ""


@dataclass(frozen=True)
class Span:
    """A checkable fact inside a unit: its text, kind, where it starts, and its unit word ("cars") if any."""

    text: str
    kind: str
    start: int
    unit: str = ""
    value: float | None = None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_units(rows: list[str], heading: str) -> list[Unit]:
    """A pipe table (Markdown, or DOCX rows) as one unit per data row, each cell named by its header."""
    body = [row for row in rows if not _MD_SEPARATOR.match(row.strip())]
    if len(body) < 2:
        return [Unit(" ".join(_cells(row)), "row", heading) for row in body]
    header, data = _cells(body[0]), body[1:]
    units = []
    for row in data:
        cells = _cells(row)
        named = tuple((name, value) for name, value in zip(header, cells, strict=False) if value)
        text = "; ".join(f"{name}: {value}" if name else value for name, value in named) + "."
        units.append(Unit(text, "row", heading, named))
    return units


def _named_cells(text: str) -> tuple[tuple[str, str], ...]:
    """``"Oven A: 120; Oven B: 80."`` as ``(("Oven A", "120"), ("Oven B", "80"))``: a table row read as named cells."""
    return tuple((name, value) for name, value in (part.split(": ", 1) for part in text.rstrip(".").split("; ")))


def text_units(text: str) -> list[Unit]:
    """The document's units in reading order (headings are context, never units)."""
    units: list[Unit] = []
    heading = ""
    paragraph: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            previous = ""
            for sentence in split_sentences(" ".join(paragraph)):
                if len(sentence.split()) >= 3:
                    units.append(Unit(sentence, "sentence", heading, previous=previous))
                previous = sentence
            paragraph.clear()
        if table:
            units.extend(_table_units(table, heading))
            table.clear()

    in_code = False
    group: tuple[int, str] = (-1, "")  # the last value-less line of an indented list: (its indent, its text)
    for raw in text.splitlines():
        line = _EMPHASIS.sub("", raw.strip())  # "**Race director:** Gwendolyn ...": the words, not the markup
        indent = len(raw) - len(raw.lstrip())
        if line.startswith("```"):
            in_code = not in_code
            flush()
            continue
        if in_code:
            continue
        if not line:
            flush()
            continue
        if match := _HEADING.match(line):
            flush()
            heading = (match.group("md") or match.group("section")).strip()
            continue
        if line.count("|") >= 2 or " | " in line:
            if paragraph:
                flush()
            table.append(line)
            continue
        if table:
            flush()
        if item := _LIST_ITEM.match(line):
            flush()
            units.append(Unit(item.group("text").strip(), "item", heading))
        elif (indent and _INDENTED_LABEL.match(line)) or _DOT_LEADER_LINE.match(line):
            flush()  # "  Fridge or freezer (each): £28.00": a plain-text list line with no bullet, one fact each
            units.append(Unit(line, "item", heading, group=group[1] if group[0] < indent else ""))
        elif _NAMED_CELLS.match(line):
            flush()
            units.append(Unit(line, "row", heading, _named_cells(line)))
        elif labelled := _LABELLED_CELLS.match(line):
            flush()
            label = ("", labelled.group("label").strip())
            units.append(Unit(line, "row", heading, (label, *_named_cells(labelled.group("cells")))))
        elif line.isupper() and len(line.split()) <= 12:
            flush()  # a plain-text title line ("SAFETY AND OPERATIONS MANUAL")
        else:
            if indent and len(line.split()) <= 8 and not line.endswith((".", ":", ",", "(")) and \
                    line.count("(") == line.count(")") and line.split()[-1] not in ("and", "or", "for", "of"):
                group = (indent, line)  # "    Dogs - spay, by bodyweight": what the lines under it price
            elif not indent:
                group = (-1, "")
            paragraph.append(line)
    flush()
    return units


def _number_value(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < b and a < end for a, b in taken)


def fact_spans(text: str) -> list[Span]:
    """Every checkable span of a unit, left to right, none overlapping (dates and times before numbers,
    numbers before codes and names)."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, kind: str, unit: str = "", value: float | None = None) -> None:
        if not _overlaps(start, end, taken):
            taken.append((start, end))
            spans.append(Span(text[start:end], kind, start, unit, value))

    for match in _DATE.finditer(text):
        add(match.start(), match.end(), DATE)
    for match in _TIME.finditer(text):
        add(match.start(), match.end(), TIME)
    for match in _STANDARD.finditer(text):
        add(match.start(), match.end(), CODE)  # "ISO/IEC 27001": a standard's name, not 27001 of something
    for match in _REFERENCE.finditer(text):
        noun = match.group("noun")
        if noun not in _STOP_NAMES and not _MONTH_OR_DAY.match(noun) and is_noun(noun) and not \
                re.match(r"\s*(?:%|per cent|percent)", text[match.end():]):
            add(match.start(), match.end(), CODE)
    for match in _YEAR.finditer(text):
        after = re.match(r"\s+([a-z][\w-]*)", text[match.end():])
        before = re.search(r"\b(in|since|until|by|from|of|before|after|between|and|to|year|about|around|c\.|from|"
                           r"during|early|late|summer|winter|spring|autumn)\s+$", text[:match.start()], re.IGNORECASE)
        if before or after is None or after.group(1) in _NOT_UNITS:
            add(match.start(), match.end(), YEAR, value=float(match.group(0)))
    for match in _PENCE.finditer(text):
        add(match.start(), match.end() + _rate_length(text, match.end()), NUMBER, "p",
            _number_value(match.group("value")))
    for match in _NUMBER.finditer(text):
        unit = (match.group("unit") or "").strip()
        end = match.end()
        if unit and (unit.lower() in _NOT_UNITS or (unit[0].isupper() and unit not in _UPPER_UNITS
                     and not unit.startswith(("V ", "Th")))):
            end = match.end("value")
            unit = ""
        if unit.endswith(("'s", "’s")) or re.search(r"\b(?:aged|age of)(?: under| over)?\s+$", text[:match.start()]):
            end, unit = match.end("value"), ""  # "aged 5 travel free": an age, "travel" is no unit
        if unit.isalpha() and unit.islower() and getAllLemmas(unit) and "NOUN" not in getAllLemmas(unit):
            following = re.match(r" ([a-z]+)\b", text[end:])
            if following and is_plural_noun(following.group(1)):
                end += len(following.group(0))  # "68 playing members", "3 consecutive days": the noun counts
                unit = f"{unit} {following.group(1)}"
            else:
                end, unit = match.end("value"), ""  # "paid 3 times", "aged 5 travel": no unit
        elif unit.isalpha() and unit.islower() and (following := re.match(r" ([a-z]+)\b", text[end:])) \
                and is_plural_noun(following.group(1)) and not is_plural_noun(unit):
            end += len(following.group(0))  # "37 heron nests": the unit is the compound noun
            unit = f"{unit} {following.group(1)}"
        if unit and _YEAR.fullmatch(match.group("value")):
            continue  # "the 1911 founders": a year used as a word, not a count
        if text[match.start():end].endswith((".", ",")):
            end -= 1
        if match.group("currency") or (unit and unit not in ("%", "per cent", "percent")):
            end += _rate_length(text, end)  # "£265 per metre": a rate is its amount and what it is per
        value = _number_value(match.group("value"))
        add(match.start(), end, NUMBER, unit or ("%" if "%" in match.group(0) else ""), value)
    for match in _CODE.finditer(text):
        word = match.group(0)
        if word.isalpha() and ((word.isupper() and len(word) > 4) or match.start() == 0 or _ROMAN.match(word)):
            continue
        if re.fullmatch(r"[A-Z]{1,3}\s?\d{1,3}", word) and not re.search(r"\d", word[:1]) and " " in word \
                and word.split()[0] in ("A", "I"):
            continue
        add(match.start(), match.end(), CODE)
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        start = match.start()
        while words and (words[0] in _STOP_NAMES or words[0].lower() in ("of", "and", "the") or words[0][0].isdigit()):
            start = text.index(words[0], start) + len(words[0])
            words = words[1:]
        while words and words[-1].lower() in ("of", "and", "the"):
            words = words[:-1]
        if post := next((i for i, word in enumerate(words) if i >= 2 and _POST_NOMINAL.match(word)), None):
            words = words[:post]  # "Ingrid Halvorsen-Pryce BVSc": the name, not the degree after it
        if not words:
            continue
        if len(words) >= 3 and words[0].rstrip(".") in _TITLE_NAMES:
            words = words[1:]  # "Councillor Maureen Oyelaran": the person is asked for, not their title
        post = next((i for i, word in enumerate(words) if word.lower() not in _ROLE_NAMES), len(words))
        if post and len(words) - post >= 2 and not is_noun(words[post].lower()):
            words = words[post:]  # "Head Keeper Rosalind Tarrant-Briggs": the person, not their post
        if "of" in words[2:4] and _PERSON_BEFORE.search(text[:match.start()]):
            words = words[: words.index("of", 2)]  # "councillor Maren Okafor of Amberley Cross": the person
        start = text.index(words[0], start)
        name = " ".join(words)
        end = start + len(name)
        if text[start:end] != name:
            continue  # the match spans a line break or double space: leave it
        sentence_start = start == 0 or re.search(r"[.!?:]\s*$", text[:start]) is not None
        if len(words) == 1 and (sentence_start or len(name) < 3 or _MONTH_OR_DAY.match(name)):
            continue
        add(start, end, NAME)
    return sorted(spans, key=lambda span: span.start)


def _rate_length(text: str, end: int) -> int:
    """How many characters after an amount say what it is per ("per metre", "a week"); 0 when nothing does. Two
    words where the second is the noun ("per gross tonne"), not "per metre of length", "per day for ..."."""
    rate = _RATE.match(text, end)
    if rate is None:
        return 0
    per = (rate.group("per") or "").split()
    if len(per) == 2 and (per[0].lower() in _RATE_UNITS or per[1] in _NOT_UNITS or not is_noun(per[1])):
        return rate.start("per") - end + len(per[0])
    return rate.end() - end


def is_reference(span: Span) -> bool:
    """Whether the span is a numbered reference ("Article 7", "Section 4.2"): asked "which article"."""
    return span.kind == CODE and _REFERENCE.fullmatch(span.text) is not None


def span_unit_kind(span: Span) -> str:
    """What a number counts: ``currency``, ``time``, ``percent`` or ``count`` (anything else, or no unit)."""
    unit = span.unit.lower()
    if span.text[:1] in "€$£" or unit in _CURRENCY_WORDS or unit == "p":
        return "currency"
    if unit in _TIME_UNITS:
        return "time"
    if unit in ("%", "percent", "per cent"):
        return "percent"
    return "count"


def key_forms(span: Span) -> tuple[str, ...]:
    """The acceptable forms of a span's key, the span itself first: "24 cars" also as "24", "4.5 percent" also as
    "4.5%" and "4.5", "1,655" also as "1655"."""
    forms = [span.text]
    if span.kind == NUMBER and (rate := re.search(r"\s+(?:per|a|an)\s+[a-z ]+$", span.text)):
        forms.append(span.text[: rate.start()])  # "£265 per metre" also as "£265"
    if span.kind == NUMBER:
        bare = span.text.lstrip("€$£")
        number = re.match(r"[\d,.]+", bare)
        if number:
            digits = number.group(0).rstrip(".,")
            if span.unit in ("percent", "per cent"):
                forms.append(f"{digits}%")
            forms.append(digits)
            if "," in digits:
                forms.append(digits.replace(",", ""))
    if span.kind == DATE and (weekday := re.match(rf"(?:{_WEEKDAYS}),?\s+", span.text)):
        forms.append(span.text[weekday.end():])  # "Saturday 13 December 2025" also as "13 December 2025"
    if span.kind == NAME and re.match(r"^(?:MV|SS|MS|HMS|RMS|The) \S", span.text):
        forms.append(span.text.split(" ", 1)[1])  # "MV Saint Elvary" also as "Saint Elvary"
    if span.kind == NAME:
        forms.append(bare_name(span.text))
    seen: list[str] = []
    for form in forms:
        if form and form not in seen:
            seen.append(form)
    return tuple(seen)


def bare_name(name: str) -> str:
    """A name without its bracketed note: "Ophthalmology (eye clinic)" -> "Ophthalmology" (either answers)."""
    return re.sub(r"\s*\([^)]*\)", "", name).strip() or name


def paragraph_sentences(text: str) -> list[str]:
    """All sentences of a text (for the out-of-corpus word checks and the reports)."""
    return split_sentences(text)
