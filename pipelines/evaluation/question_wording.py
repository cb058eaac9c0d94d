"""Word a question for a fact by rules: the clause around the fact turned into a question, not a quote of it.

The fact's clause is inverted around its verb ("MV Annick Marrow can carry 24 cars." becomes "How many cars can
MV Annick Marrow carry?"; "A full top-up charge takes 22 minutes." becomes "How many minutes does a full top-up
charge take?"), with the question word chosen by what the fact is (a year after "in": "In what year ...?", a sum
of money: "How much ...?", a name after "by": "By whom ...?"). A few shapes have their own form: "the fleet
superintendent is Desmond Arkwhistle" ("Who is the fleet superintendent?"), an appositive code ("Dunmarrow Point,
code DMP": "What is the code of Dunmarrow Point?"), a ``Label: value`` line, and a table cell ("What builder is
listed for Orla?"). A fact whose clause fits none of these gets no question (it is not counted as a fact).

Only the clause that holds the fact is used: what follows the fact is dropped, a leading "In 2023," moves to the end,
and "she" or "it" at the start is replaced by the name the sentence before it is about. A fact inside a "when ..."
or "if ..." clause is asked as the main clause's condition ("When is a red flag flown?"). Which word is the verb,
its form and its bare form come from a lexicon (``lemminflect``), not from word endings. Where a rule fits but its
question would read badly (a subject that refers back to what the question does not name, a fronted phrase, a
name that modifies a noun, half of a pair) the rule answers :class:`Refused` with the reason, which the generator
counts: a dropped fact is better than a broken question.

Example::

    word_question(Unit("MV Annick Marrow can carry 24 cars and 180 passengers.", "sentence"), span)
    # 'How many cars can MV Annick Marrow carry?'
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from pipelines.evaluation.question_facts import (
    CODE,
    DATE,
    DOT_LEADER,
    NAME,
    NUMBER,
    TIME,
    YEAR,
    Span,
    Unit,
    bare_name,
    can_be,
    fact_spans,
    has_form,
    is_noun,
    is_plural_noun,
    is_reference,
    span_unit_kind,
    verb_form,
    verb_lemma,
)
from pipelines.evaluation.question_restate import present_adverb_dropped, restatements

AUXILIARIES = frozenset(["is", "are", "was", "were", "can", "could", "must", "may", "might", "will", "would",
                         "should", "shall", "has", "have", "had", "does", "do", "did"])
_BOUNDARY_WORDS = frozenset(["but", "so", "yet"])
_PREPOSITIONS = frozenset(["in", "on", "at", "by", "for", "within", "after", "before", "since", "until", "from", "to",
                           "of", "every", "than", "about", "under", "over", "between", "during", "below", "above",
                           "beyond", "into"])
_QUALIFIERS = ("no more than", "not more than", "no fewer than", "no less than", "up to", "about", "at least",
               "at most", "more than", "less than", "nearly", "some", "over", "around",
               "roughly", "almost", "only", "just", "approximately", "exactly", "under", "a maximum of",
               "a minimum of")
_LOWER_STARTS = frozenset(["The", "A", "An", "Each", "Every", "All", "Its", "Their", "Her", "His", "This", "These",
                           "Those", "Some", "Any", "No", "Both", "Our", "Your", "Most", "Many", "Several", "Such",
                           "You", "We"])
_SUBORDINATE = frozenset(["which", "that", "who", "whom", "whose", "where", "when", "while", "because", "although",
                          "though", "if", "unless", "whereas", "once", "whenever"])
_NUMBER_WORDS = frozenset(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                           "twelve"])
_PRONOUNS = frozenset(["She", "He", "It", "They", "Her", "His", "Its", "Their", "This"])
_DETERMINERS = frozenset(["the", "a", "an", "each", "every", "all", "its", "their", "her", "his", "this", "these",
                          "those", "some", "any", "no", "both", "our", "your", "most", "many", "several", "such",
                          "one", "two", "three", "four", "five", "six"])
_ROLE_WORDS = ("officer", "foreman", "manager", "chair", "head", "director", "superintendent", "inspector",
               "secretary", "steward", "guide", "driver", "captain", "pilot", "engineer", "author", "president",
               "master", "keeper", "controller", "founder", "treasurer", "leader", "chief", "coordinator", "warden",
               "stationmaster", "mayor", "owner", "clerk", "editor", "conductor", "holder", "chairman", "chairwoman",
               "head", "principal", "partner", "architect", "designer", "builder")
_LABEL_LINE = re.compile(rf"^(?P<label>[A-Z0-9][\w ’'()/,-]{{0,58}}?)(?::\s+|{DOT_LEADER})(?P<value>\S.*)$")
#: Words that open a fronted phrase, never a subject ("Outside the peaks the interval is 20 minutes").
_PHRASE_OPENERS = (_PREPOSITIONS - {"every"}) | frozenset([
    "outside", "inside", "near", "along", "across", "through", "throughout", "with", "without", "beside", "behind",
    "among", "against", "towards", "toward", "upon", "via", "despite", "except", "like", "unlike", "apart", "instead",
    "together", "even", "also", "only", "here", "there"])
_NEGATIVE_STARTS = frozenset(["no", "none", "neither", "nothing", "nobody", "never"])
_ANAPHORIC_STARTS = frozenset(["its", "their", "her", "his", "this", "that", "these", "those", "such", "both",
                               "either", "another", "other", "said"])
#: Nouns that name a measure: "a penalty fare of 45.00 drell" asks "What penalty fare ...?", "a vessel of up to 320
#: tonnes" does not ask "What vessel ...?".
_MEASURE_NOUNS = frozenset(["fare", "fee", "price", "charge", "cost", "sum", "fine", "penalty", "speed", "capacity",
                            "distance", "length", "depth", "height", "width", "weight", "period", "interval", "delay",
                            "term", "duration", "total", "balance", "budget", "surplus", "deficit", "rent", "salary",
                            "wage", "limit", "maximum", "minimum", "temperature", "draught", "tonnage", "loan",
                            "discount", "rate", "range", "gradient", "gauge", "fee", "allowance", "deposit", "grant",
                            "warranty", "guarantee", "lifetime", "lifespan", "life", "power", "output", "energy",
                            "volume", "area", "size", "radius", "diameter", "altitude", "elevation", "span", "load",
                            "pressure", "voltage", "frequency", "resolution", "accuracy", "tolerance", "threshold",
                            "quota", "population", "turnover", "revenue", "profit", "income", "dividend", "tariff",
                            "toll", "levy", "tax", "premium", "subsidy", "notice", "tenure", "window", "majority",
                            "quorum", "turnout", "share", "stake", "yield", "growth", "increase", "reduction",
                            "rise", "mileage", "clearance", "headroom", "payload", "displacement", "storage",
                            "bandwidth", "throughput", "latency", "uptime", "downtime", "runtime", "timeout",
                            "footprint", "reach", "endurance", "ceiling"])
_VAGUE_ENDS = frozenset(["a little", "a few", "a lot", "some", "more", "less", "just", "only", "well", "nearly",
                         "almost", "about", "around", "roughly", "approximately", "exactly", "at least", "at most"])


@dataclass(frozen=True)
class Refused:
    """A rule fitted the fact but would word a broken question: why it was dropped (the generator counts it)."""

    reason: str


def _words(text: str) -> list[str]:
    return text.split()


def _lower_first(text: str) -> str:
    first, _, rest = text.partition(" ")
    if first in _LOWER_STARTS:
        return f"{first.lower()} {rest}".strip()
    return text


def _tidy(question: str) -> str:
    question = re.sub(r"\s+", " ", question).strip(" ,;:.")
    question = re.sub(r"\s+([,;:?])", r"\1", question)
    return question[:1].upper() + question[1:] + "?"


def lemma(verb: str) -> str:
    """The bare form of a finite verb ("takes" -> "take", "served" -> "serve", "sold" -> "sell")."""
    return verb_lemma(verb) or verb.lower()


def _is_past(verb: str) -> bool:
    return verb_form(verb) in ("VBD", "VBN")


def _finite_verb(word: str, before: str) -> bool:
    """Whether ``word`` reads as a finite verb: a third-person or past form in the lexicon ("takes", "sold"), not
    after a determiner, not a proper name ("piers", "offices" and "goods" are nouns only, so never verbs)."""
    if not word.isalpha() or word[0].isupper() or before.lower() in _DETERMINERS or word in AUXILIARIES:
        return False
    form = verb_form(word)
    if form in ("VBD", "VBN") and before.lower() in _PREPOSITIONS:
        return False  # "a claim for damaged baggage": an adjective after a preposition, not the clause's verb
    if form == "VBZ":
        return len(word) > 3
    if form == "VB":  # "Sailings run every 45 minutes": a plural noun's present tense
        return before.isalpha() and is_plural_noun(before)
    return form in ("VBD", "VBN") and word.lower() not in ("set", "cost", "put", "read", "found", "left")


def _participle(word: str) -> bool:
    return word[:1].islower() and word not in AUXILIARIES and verb_form(word) in ("VBD", "VBN")


def wh_phrase(span: Span, prep: str) -> tuple[str, bool] | None:
    """The question words for a span after ``prep`` and whether the preposition is used up by them."""
    if span.kind == YEAR:
        if prep in ("since", "until", "by", "from", "after", "before"):
            return f"{prep} what year", True
        return "in what year", prep == "in"
    if span.kind == DATE:
        if prep == "in" and not re.match(r"\d", span.text):
            return "in which month", True
        if prep in ("by", "until", "before", "from", "since", "after"):
            return f"{prep} what date", True
        return "on what date", prep in ("on", "")
    if span.kind == TIME:
        if prep in ("by", "until", "before", "from", "after"):
            return f"{prep} what time", True
        return "at what time", prep in ("at", "")
    if span.kind == NUMBER:
        kind = span_unit_kind(span)
        if (not span.unit and span.text[:1] not in "€$£") or span.unit.lower() in ("million", "billion", "thousand",
                                                                                   "hundred"):
            return None  # a bare number names nothing to ask for; "£165" names money
        if prep == "every":
            return "how often", True
        if kind == "currency":
            if prep == "into" and span.unit[:1].isalpha():
                return f"into how many {span.unit}", True  # "divided into 100 pennets": a count of coins
            if prep == "for":
                return "for how much", True  # "can be hired for 15 Th": "For how much can ... be hired?"
            return "how much", prep in ("at", "of", "")
        if kind == "percent":
            return ("by what percentage", True) if prep == "by" else ("what percentage", prep in ("of", ""))
        unit = "per cent" if span.unit in ("%",) else span.unit
        unit = re.sub(r"^(?:million|billion|thousand|hundred) ", "", unit)  # "1.1 million passengers": how many
        words = f"how many {unit}" if span.unit not in ("°C",) else "what temperature"
        if prep in ("for", "within", "after", "in", "by", "to", "from", "under", "over", "than", "into"):
            return f"{prep} {words}", True  # "divided into 100 pennets": "Into how many pennets ...?"
        return words, prep in ("of", "")
    if is_reference(span):
        noun = span.text.split()[0].lower()
        if prep in ("in", "under", "by", "on", "at", "from", "to", "into", "of"):
            return f"{prep} which {noun}", True  # "described in Section 7": "In which section is ... described?"
        return None
    if span.kind == NAME:
        if prep == "by":
            return "by whom", True
        if prep in ("at", "in"):
            return "where", True
        if prep == "from":
            return "from where", True
    return None


_PLACE_NOUNS = frozenset(["shed", "sheds", "berth", "office", "offices", "depot", "station", "pier", "piers", "wharf",
                          "yard", "yards", "works", "quay", "halt", "landing", "square", "street", "hall", "house",
                          "harbour", "slip", "dock", "docks", "building", "tavern", "inn", "cafe", "café",
                          "terminal", "platform", "bridge", "workshop", "workshops", "boatyard", "boatyards",
                          "village", "town", "market", "church", "school", "museum", "park", "archive"])


def _subject_name(text: str, pronoun: str) -> str:
    """The name a pronoun at the start of the next sentence stands for, or "" when the sentence before does not
    make it plain: "she"/"he" -> the first person-like name (a multi-word name not after "the", not a role such
    as "Head Steward"); "it"/"they" -> the name the sentence before opens with ("The Owl Boat ..." -> "the Owl
    Boat")."""
    spans = [span for span in fact_spans(text) if span.kind == NAME]
    if pronoun in ("she", "he"):
        for span in spans:
            words = span.text.split()
            after_the = re.search(r"\bthe\s+$", text[: span.start], re.IGNORECASE)
            if len(words) > 1 and not after_the and not any(w.lower().rstrip("s") in _ROLE_WORDS for w in words):
                return span.text
        return ""
    opening = re.match(r"^(?P<the>The\s+)?[\"“‘']?", text)
    first = spans[0] if spans else None
    if first is None or first.start != opening.end():
        return ""
    return f"the {first.text}" if opening.group("the") else first.text


def _sentence_subject(tokens: list[str]) -> list[str]:
    """The subject at the start of a sentence: the words before its first auxiliary or present-tense verb."""
    for index in range(1, min(len(tokens), 12)):
        token = tokens[index]
        if token in AUXILIARIES or (_finite_verb(token, tokens[index - 1]) and (verb_form(token) == "VBZ" or (
                verb_form(token) == "VBD" and not has_form(token, "VBN")))):
            return tokens[:index]  # "... takes", "... took" (a past that is no participle: "built" may be one)
        if token.endswith((",", ";")):
            return []
    return []


def _subject_problem(subject: list[str], salient: frozenset[str], introduced: bool) -> str:
    """Why a clause's subject would make a broken or unanswerable question ("" when it reads well)."""
    words = [token.lower().strip(",;:") for token in subject]
    if not words:
        return "no subject"
    if words[0] in _PHRASE_OPENERS:
        return "subject opens with a preposition (a fronted phrase, not a subject)"
    if subject[0][:1].isdigit():
        return "subject opens with a number (\"3 was scrapped\")"
    if subject[0][:1].islower() and verb_form(subject[0]) == "VBG" and len(words) > 1:
        return "subject is a participle phrase"  # "selling its two barges" ("parking costs 7 thalers" is fine)
    if any(word in _SUBORDINATE for word in words):
        return "subject holds a clause"
    if words[0] in _NEGATIVE_STARTS:
        return "negative subject"
    if words[0] in _ANAPHORIC_STARTS:
        return "subject refers back (its, her, this) to what the question does not name"
    if words[-1] in _PREPOSITIONS | {"and", "or"}:
        return "subject is cut short"
    if not introduced and len(words) == 2 and words[0] == "the" and subject[1][:1].islower() and \
            words[1] not in salient and words[1].rstrip("s") not in salient:
        return 'bare "the <noun>" subject the document does not name in its title or headings'
    return ""


def _invert(clause: list[str], first_verb: int, participle_ok: bool) -> tuple[list[str], str, list[str]] | None:
    """A clause split for a question: (subject, helper, predicate), with do-support when it has no auxiliary
    ("A full charge takes 22 minutes" -> (["A", "full", "charge"], "does", ["take", "22", "minutes"]))."""
    aux = next((i for i, t in enumerate(clause) if t in AUXILIARIES and i >= first_verb), None)
    verb_at = next((i for i in range(first_verb, len(clause)) if _finite_verb(clause[i], clause[i - 1]) and not (
        i + 1 < len(clause) and (clause[i + 1] in AUXILIARIES or (
            _finite_verb(clause[i + 1], clause[i]) and verb_form(clause[i + 1]) == "VB"
            and not can_be("ADJ", clause[i + 1]))))),
        None)  # "Wren class launches carry ...", "the ferries were built": a noun before the verb
    if verb_at is not None and verb_form(clause[verb_at]) == "VB" and any(
            _finite_verb(t, clause[j - 1]) and verb_form(t) == "VBZ" for j, t in enumerate(clause) if j > verb_at):
        verb_at = next((j for j in range(verb_at + 1, len(clause)) if _finite_verb(clause[j], clause[j - 1])
                        and verb_form(clause[j]) == "VBZ"), None)  # "the goods yard holds": "yard" is a noun
    if verb_at is not None and aux is not None and verb_at < aux and can_be("NOUN", clause[verb_at]):
        verb_at = None  # "Permanent changes ... are announced", "Every crew member must": a noun, not a verb
    if verb_at is not None and (aux is None or verb_at < aux) and verb_form(clause[verb_at]) in ("VBD", "VBN"):
        # "A monthly pass limited to Zone A only costs ...": a participle after its noun; the verb comes later.
        later = next((i for i in range(verb_at + 1, len(clause)) if clause[i] in AUXILIARIES or (
            _finite_verb(clause[i], clause[i - 1]) and verb_form(clause[i]) == "VBZ")), None)
        if later is not None and verb_at + 1 < len(clause) and clause[verb_at + 1].lower() in _PREPOSITIONS:
            if clause[later] in AUXILIARIES:
                aux, verb_at = later, None
            else:
                aux, verb_at = None, later
    if aux is not None and (verb_at is None or aux < verb_at):
        if clause[aux].lower() in ("has", "have", "had") and (aux + 1 == len(clause) or not has_form(
                clause[aux + 1], "VBN")):
            helper = {"has": "does", "have": "do", "had": "did"}[clause[aux].lower()]
            return clause[:aux], helper, ["have", *clause[aux + 1:]]
        return clause[:aux], clause[aux].lower(), clause[aux + 1:]
    if verb_at is None or (verb_form(clause[verb_at]) in ("VBD", "VBN") and not participle_ok):
        return None  # "an electrical technician based at ...": a participle, not the clause's verb
    verb = clause[verb_at]
    helper = {"VBZ": "does", "VB": "do"}.get(verb_form(verb), "did")
    return clause[:verb_at], helper, [lemma(verb), *clause[verb_at + 1:]]


def _predicate_problem(predicate: list[str]) -> str:
    """Why the predicate would ask a broken question ("" when it reads well)."""
    lowered = [t.lower().strip(",") for t in predicate]
    for index, word in enumerate(lowered[:-1]):
        if word in ("before", "after", "while", "since", "when") and verb_form(predicate[index + 1]) == "VBG":
            return "the fact belongs to a participle clause (before retiring in 2010)"
    if len(predicate) >= 2 and _participle(predicate[-1]) and (any(
            _participle(t) and t.lower() not in ("been", "being") for t in predicate[:-1]) or (  # "been led": passive
            is_noun(predicate[-2]) and lowered[-2] not in ("last", "first", "now", "still", "ever", "once", "later",
                                                           "recently", "originally", "formerly"))):
        return "predicate ends on a participle phrase (\"the assembly held\")"
    text = " ".join(lowered)
    if any(text == end or text.endswith(f" {end}") for end in _VAGUE_ENDS):
        return "question ends on a vague quantity (a little, some)"
    return ""


_CONDITIONS = {"when": "When", "whenever": "When", "once": "When", "if": "Under what condition",
               "unless": "", "until": ""}


def _condition_question(unit: Unit, span: Span, salient: frozenset[str]) -> str | Refused | None:
    """A fact inside a "when ..."/"if ..." clause, asked as the condition of the main clause: "A red flag is flown
    when the Kesterlin gauge reads above 3.6 metres." -> "When is a red flag flown?" (the key, 3.6 metres, is what
    the answer must hold). Only when the condition holds no other number or date, so the key is the one fact."""
    if span.kind in (NAME, CODE):
        return None
    before = unit.text[: span.start]
    found = None
    for match in re.finditer(r"\b(?P<conj>when|whenever|once|if|unless|until)\s", before):
        found = match
    if found is None or not _CONDITIONS[found.group("conj")]:
        return None
    main_text = before[: found.start()].strip()
    condition = unit.text[found.end():]
    condition = re.split(r"[,;]\s|\s(?:because|so that|and then)\s|\.$", condition)[0]
    others = [s for s in fact_spans(condition) if s.kind not in (NAME, CODE) and s.text != span.text]
    if others:
        return Refused("the condition holds more than one fact")
    if re.search(r"[,;:]", main_text) or not main_text:
        return None  # the main clause is not the sentence's opening clause
    tokens = main_text.replace("cannot", "can not").replace("can't", "can not").split()
    while tokens and tokens[-1].lower() in ("only", "even", "just", "also", "automatically", "always"):
        tokens = tokens[:-1]
    if not tokens or tokens[0].lower() in _PHRASE_OPENERS or tokens[0] == "There":
        return None
    inverted = _invert(tokens, 1, participle_ok=True)
    if inverted is None:
        return None
    subject, helper, predicate = inverted
    if not predicate:
        return None
    if problem := _subject_problem(subject, salient, False) or _predicate_problem(predicate):
        return Refused(problem)
    subject_text = _subject_text(subject, unit)
    if not subject_text:
        return Refused("pronoun subject without a named antecedent")
    words = _CONDITIONS[found.group("conj")]
    while True:
        question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)}")
        last = _last_preposition(predicate)
        if quoted_run(question, unit.text) < QUOTE_LIMIT or last is None:
            return question
        predicate = predicate[:last]


def _clause_question(unit: Unit, span: Span, salient: frozenset[str] = frozenset()) -> str | Refused | None:
    """The general form: the clause inverted around its auxiliary, or with do-support around its main verb."""
    tokens = unit.text[: span.start].split()
    if not tokens:
        return None
    after = unit.text[span.start + len(span.text):]
    # Qualifiers ("up to", "about") stay with the fact; the preposition before them goes into the question words.
    for qualifier in sorted(_QUALIFIERS, key=len, reverse=True):
        words = qualifier.split()
        if [t.lower() for t in tokens[-len(words):]] == words:
            tokens = tokens[: -len(words)]
            break
    if not tokens:
        return None
    if span.kind == NAME and len(tokens) > 1 and tokens[-1] == "the":
        tokens = tokens[:-1]  # "by the Scallenby Yard"
    if span.kind in (DATE, TIME, YEAR) and (ends := _range_end(unit.text[: span.start], span)) is not None:
        tokens = [*ends.split(), "until"]  # "runs from 1 May to 30 September": "Until what date does ... run?"
    if tokens[-1].lower() in ("and", "or", "to", "-", "the"):
        return None  # "between 2027 and 2030", "from 1 May to 30 September": the fact is half of a pair
    prep = tokens[-1].lower() if tokens and tokens[-1].lower() in _PREPOSITIONS else ""
    if prep in ("from", "between") and re.match(r"\s+(?:to|and)\s", after) and not (
            prep == "from" and span.kind in (DATE, TIME, YEAR) and re.match(r"\s+(?:to|until)\s", after)):
        return Refused("the fact is half of a pair (from ... to, between ... and)")
    if prep == "of" and (span.kind != NUMBER or not span.unit):
        return None  # "the memory of the Pellish Toll Company": the fact qualifies a noun, no clean question
    wh = wh_phrase(span, prep) if prep != "of" else ("what", True)
    if wh is None:
        return None
    words, uses_prep = wh
    if span.kind == NAME and (modified := re.match(r"\s+([a-z][a-z-]+)\b", after)) and is_noun(modified.group(1)) \
            and not (words == "where" and modified.group(1) in _PLACE_NOUNS):
        return Refused('the name modifies a noun ("the Lantern Crossing festival", "the Wren class launches")')
    if span.kind == NAME and (re.match(r"\s*(?:,|and|or)\s+(?:the\s+)?[A-Z]", after)
                              or re.search(r"[A-Z][\w’'-]*(?:,| and| or)\s+(?:the\s+)?$", unit.text[: span.start])):
        return Refused("the fact is one item of a list of names")
    if prep and uses_prep:
        tokens = tokens[:-1]
    if prep == "every" and tokens and tokens[-1].lower() == "once":
        # "held at least once every 14 days": "How often ...?" asks it; the "once" and its qualifier go.
        tokens = tokens[:-1]
        for qualifier in ("at least", "at most", "no more than", "no less than", "not more than"):
            if " ".join(tokens[-len(qualifier.split()):]).lower() == qualifier:
                tokens = tokens[: -len(qualifier.split())]
                break
    # The clause: back from the fact to a comma, semicolon or relative word; a subordinate clause ("when the
    # gauge reads below 2.8 metres") is asked as the main clause's condition. A relative clause right after a
    # short noun phrase ("a stoppage that lasted 19 days") is asked about that noun phrase.
    start = len(tokens)
    relative: list[str] = []
    while start > 0:
        token = tokens[start - 1]
        if token.lower() in ("that", "which") and start >= 3:
            head = tokens[max(0, start - 4): start - 1]
            det = next((i for i in range(len(head) - 1, -1, -1) if head[i].lower() in ("a", "an", "the")), None)
            if det is None or any(t.endswith((",", ";")) or t[:1].isupper() for t in head[det:]):
                return None
            relative = ["the", *head[det + 1:]]
            break
        if token.lower() in _SUBORDINATE:
            return _condition_question(unit, span, salient)
        if token.endswith((",", ";", ":")) or token.lower() in _BOUNDARY_WORDS:
            break
        if token.lower() == "and" and start < len(tokens) and (tokens[start] in AUXILIARIES or _finite_verb(
                tokens[start], "")) and not (start >= 2 and _participle(tokens[start - 2])):
            start -= 1  # "... and can carry 28 cars": the clause's subject is the sentence's
            break
        start -= 1
    clause = tokens[start:]
    opening = tokens[:start]
    if opening and opening[0].lower() in _SUBORDINATE and not relative:
        return Refused("the fact holds only under the sentence's opening condition (\"If a train is late, ...\")")
    if opening and opening[-1].endswith(",") and opening[-1][:1].isupper() and "and" in clause[:4]:
        return Refused("subject is the tail of a list (\"at Thrumwick, Kesterlin and Velloch\")")
    fronted: list[str] = []
    if opening and opening[0].lower() in _PREPOSITIONS - {"every"} and opening[-1].endswith(",") and len(opening) <= 6:
        fronted = [*opening[:-1], opening[-1].rstrip(",")]  # "In 2023, the cooperative ...": asked "... in 2023"
    elif opening and opening[0].lower() in _PHRASE_OPENERS - {"also", "only", "even", "here", "there"} and \
            not relative:
        # "Under an amber flag, ..., and Wren class launches carry 45 passengers": the opening phrase is the
        # fact's condition, so it goes with the question ("... under an amber flag") when it is short.
        comma = next((i for i, t in enumerate(opening) if t.endswith(",")), None)
        if comma is None:
            return Refused("the fact holds only under the sentence's opening phrase")
        if comma <= 5:
            fronted = [*opening[:comma], opening[comma].rstrip(",")]
    elided = False
    if clause and clause[0].lower() in ("and", "but", "so", "then", "also", "now"):
        elided = clause[0].lower() == "and"
        clause = clause[1:]
    if not clause or any(t.endswith((".", "!", "?")) for t in clause) or clause[0] in ("There", "there"):
        return None
    implied: list[str] = relative
    if not implied and elided and (clause[0] in AUXILIARIES or _finite_verb(clause[0], "")):
        sentence = unit.text.split()
        implied = _sentence_subject(sentence)  # "She ... and can carry 28 cars": she can carry
        if not implied:
            return None
        if _participle(clause[0]) and ((prep == "by" and len(clause) == 1) or sentence[len(implied)] in (
                "is", "are", "was", "were")):
            # "Lost property is gathered here and kept for 60 days": the passive's auxiliary is the sentence's.
            passive = sentence[len(implied)]
            if passive not in ("is", "are", "was", "were") or _subject_problem(implied, salient, False):
                return Refused('a passive verb joined by "and" whose auxiliary is not plain')
            subject_text = _subject_text(implied, unit)
            if not subject_text:
                return Refused("pronoun subject without a named antecedent")
            moved = " ".join([fronted[0].lower(), *fronted[1:]]) if fronted else ""
            return _tidy(f"{words} {passive} {subject_text} {' '.join(clause)} {moved}")
    elif not implied and clause[0].lower() in AUXILIARIES:
        return None
    if not implied and clause[0].lower() in _PREPOSITIONS - {"every"}:
        # "In the Ice Winter of 1919 the Varrowind stayed ...": the phrase moves to the end of the question.
        cut = next((i for i in range(2, len(clause)) if clause[i].lower() in ("the", "a", "an", "each", "every")),
                   None)
        # "At the end of 2025 Lumenhollow employed ...": a phrase that ends on a year or date, then the subject.
        dated = next((i + 1 for i in range(1, min(len(clause) - 1, 8)) if re.fullmatch(r"(?:1[6-9]|20)\d\d", clause[i])
                      and (clause[i + 1][:1].isupper() or clause[i + 1] in ("it", "they", "he", "she", "we"))),
                     None)
        cut = dated if dated is not None else cut
        if cut is None:
            return None
        fronted, clause = clause[:cut], clause[cut:]
    first_verb = len(implied) if implied else 1
    clause = [*implied, *clause]
    participle_ok = bool(implied) or start == 0 or tokens[start - 1].endswith(";")
    inverted = _invert(clause, first_verb, participle_ok)
    if inverted is None:
        return None
    subject, helper, predicate = inverted
    if not subject or len(subject) > 12 or (subject[0].lower() in _NUMBER_WORDS and not (
            len(subject) == 2 and subject[1].isalpha() and subject[1].islower() and (
                can_be("NOUN", subject[1]) or not verb_lemma(subject[1])))):
        return None  # "Three of the boats ...", "Two were scrapped"; "One drell is divided ..." reads well
    subject_text = _asked_subject(subject, salient, bool(relative), unit)
    if isinstance(subject_text, Refused):
        return subject_text
    if prep == "of":
        # "must pay a penalty fare of 45.00 drell" -> "What penalty fare must ... pay?"; "have a service speed
        # of 11 knots" -> "What is the service speed of ...?"; "a vessel of up to 320 tonnes" names no measure.
        det = next((i for i, t in enumerate(predicate) if t.lower() in ("a", "an", "the")), None)
        noun = predicate[det + 1:] if det is not None else []
        if det is None and len(predicate) == 1 and predicate[0].isalpha() and verb_form(predicate[0]) == "VB" \
                and not can_be("NOUN", predicate[0]) and (counted := wh_phrase(span, "")) is not None:
            # "The MSc consists of 180 credits" -> "How many credits does the MSc consist of?"
            return _tidy(f"{counted[0]} {helper} {subject_text} {predicate[0]} of")
        if det is None or not 1 <= len(noun) <= 3 or any(t.lower() in _PREPOSITIONS or (not t.isalpha() and "-" not
                                                         in t) for t in noun):
            return None
        if noun[-1].lower() not in _MEASURE_NOUNS:
            return Refused('"of" follows a noun that is not a measure ("a vessel of up to 320 tonnes")')
        if predicate[:det] == ["have"] and helper in ("does", "do"):
            return _tidy(f"What is the {' '.join(noun)} of {subject_text}")
        if det >= 1 and predicate[det - 1].lower() == "with":
            # "The hall opened in 1990 with a capacity of 400 seats" -> "What is the capacity of the hall?"
            return _tidy(f"What {'was' if helper in ('did', 'was', 'were') else 'is'} the {' '.join(noun)} of "
                         f"{subject_text}")
        if not 1 <= det <= 2:
            return None
        return _tidy(f"What {' '.join(noun)} {helper} {subject_text} {' '.join(predicate[:det])}")
    if any(t.lower().strip(",") in ("and", "or") and any(n[:1].isdigit() for n in predicate[max(i - 2, 0): i + 3])
           for i, t in enumerate(predicate)) or ("between" in predicate and any(t[:1].isdigit() for t in predicate)):
        return None  # another fact of the same pair is in the predicate ("between 2 and 4", "12 or 14 days")
    while len(predicate) > 8:  # "taken out of the water for a full survey and overhaul": cut at a preposition
        cut = _last_preposition(predicate, 2)
        if cut is None:
            return None
        predicate = predicate[:cut]
    if predicate and predicate[-1].lower() in _PREPOSITIONS | {"into", "onto", "through", "via"}:
        return None
    if any(t.lower().strip(",") in ("not", "no", "never", "and", "or", "between") for t in predicate[-2:]) \
            or any(t.lower() in ("not", "never") for t in predicate):
        return None
    if predicate and predicate[-1].lower() in ("a", "an", "the"):
        predicate = predicate[:-1]
    while len(predicate) > 1 and predicate[-1].lower() in ("only", "just", "also", "still"):
        predicate = predicate[:-1]
    if words.startswith(("how much", "what percentage")) and predicate and predicate[-1].lower() == "of":
        predicate = predicate[:-1]
    if problem := _predicate_problem(predicate):
        return Refused(problem)
    if not predicate and helper in ("does", "do", "did"):
        return None
    if not any(t[:1].isupper() or t[:1].isdigit() or can_be("NOUN", t.strip(",")) or verb_form(t) == "VBG"
               or t.lower() in ("she", "he", "it", "they") for t in subject):
        return Refused("subject has no noun")
    moved = " ".join([fronted[0].lower(), *fronted[1:]]) if fronted else ""
    question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)} {moved}")
    if quoted_run(question, unit.text) < QUOTE_LIMIT:
        return question
    # Too close to the sentence: drop a participle phrase from the subject ("lost property found on any vessel"
    # -> "lost property"), then the predicate's last prepositional phrase, then the moved phrase.
    words_of_subject = subject_text.split()
    cut = next((i for i in range(1, len(words_of_subject)) if not can_be("NOUN", words_of_subject[i]) and (
        _participle(words_of_subject[i]) or (words_of_subject[i][:1].islower()
                                             and verb_form(words_of_subject[i]) == "VBG"))), None)
    if cut is not None and not any(w[:1].isupper() or w[:1].isdigit() for w in words_of_subject[cut:]):
        subject_text = " ".join(words_of_subject[:cut])
    elif cut is not None and not moved and cut + 2 < len(words_of_subject) and \
            words_of_subject[cut + 1].lower() in _FRONTABLE and not _predicate_problem(predicate):
        # "A monthly pass loaded on a Tideglass card ... costs 68.00 drell" -> "On a Tideglass card, how much does
        # a monthly pass cost?": the participle goes, its phrase (which names what the subject is) leads.
        phrase = words_of_subject[cut + 1:]
        question = _tidy(f"{phrase[0].capitalize()} {' '.join(phrase[1:])}, {words} {helper} "
                         f"{' '.join(words_of_subject[:cut])} {' '.join(predicate)}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
    if not moved and (split := _fronted_phrases(subject_text)) is not None:
        # "A candidate for a Grade III ticket must have logged 400 hours" -> "For a Grade III ticket, how many
        # hours must a candidate have logged?": the subject's phrases go first, so the question does not quote it.
        head, phrases = split
        question = _tidy(f"{', '.join(phrases)}, {words} {helper} {head} {' '.join(predicate)}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT and not _predicate_problem(predicate):
            return question
    for _ in range(3):
        if _predicate_problem(predicate):
            break
        question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)} {moved}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
        last = _last_preposition(predicate)
        if last is not None:
            predicate = predicate[:last]
        elif moved:
            moved = ""
        else:
            break
    return None


_FRONTABLE = frozenset(["for", "in", "on", "at", "with", "during", "under", "between"])


def _range_end(before: str, span: Span) -> str | None:
    """The clause before "from <date> to" when ``span`` is the range's end ("The service runs only from 1 May to"
    -> "The service runs only"), else None."""
    match = re.search(r"^(?P<clause>.*\S)\s+from\s+(?P<first>\S.*?)\s+(?:to|until)\s+$", before)
    if not match:
        return None
    first = fact_spans(match.group("first"))
    if len(first) != 1 or first[0].kind != span.kind or first[0].text != match.group("first"):
        return None
    return match.group("clause")


def _fronted_phrases(subject: str) -> tuple[str, list[str]] | None:
    """A long subject split into its head and its prepositional phrases, last first, to lead the question:
    "a single adult fare for a foot passenger in Zone C" -> ("a single adult fare", ["In Zone C", "for a foot
    passenger"]); None when it has none (or one word of head)."""
    words = subject.split()
    cuts = [i for i, word in enumerate(words) if i >= 2 and word in _FRONTABLE and i + 1 < len(words)]
    if not cuts or any(w[:1].isdigit() for w in words) or words[cuts[0] - 1].lower() in _PREPOSITIONS:
        return None  # "a break of at least 30 minutes": a measure, not a phrase to move
    head = words[cuts[0] - 1]
    if not is_noun(head) or _participle(head):
        return None  # "a monthly pass loaded on a Tideglass card": the phrase belongs to the participle
    bounds = [*cuts, len(words)]
    phrases = [" ".join(words[a:b]) for a, b in itertools.pairwise(bounds)][::-1]
    if any(len(p.split()) < 2 for p in phrases):
        return None
    phrases[0] = phrases[0][:1].upper() + phrases[0][1:]
    return " ".join(words[: cuts[0]]), phrases


def _last_preposition(words: list[str], first: int = 1) -> int | None:
    """Index of the last preposition among ``words[first:]`` (where a too-long question is cut back), or None."""
    return next((i for i in range(len(words) - 1, first - 1, -1) if words[i].lower() in _PREPOSITIONS), None)


def _asked_subject(subject: list[str], salient: frozenset[str], introduced: bool, unit: Unit) -> str | Refused:
    """The subject as the question names it (:func:`_subject_text`), or why it cannot be asked: its own problem
    (:func:`_subject_problem`), or a pronoun with no named antecedent."""
    if problem := _subject_problem(subject, salient, introduced):
        return Refused(problem)
    return _subject_text(subject, unit) or Refused("pronoun subject without a named antecedent")


def _subject_text(subject: list[str], unit: Unit) -> str:
    """The clause's subject as asked: a pronoun replaced by the name the sentence before is about, a sentence's
    capital dropped from a common noun ("Liferafts are ..." -> "liferafts"); '' when a pronoun has no name."""
    text = " ".join(subject)
    if text in _PRONOUNS or text.lower() in ("she", "he", "it", "they", "this"):
        return _subject_name(unit.previous, text.lower())
    first, _, rest = text.partition(" ")
    if first in _LOWER_STARTS:
        return f"{first.lower()} {rest}".strip()
    if not rest and unit.text.startswith(first) and verb_form(first) == "VBG":
        return first.lower()  # "Smoking is allowed ...": a gerund, not a name
    if unit.text.startswith(first) and first.isalpha() and not first.isupper() and (
            (rest and rest[:1].islower()) or (not rest and first.endswith("s"))):
        return f"{first.lower()} {rest}".strip()
    return text


def _role_question(unit: Unit, span: Span) -> str | None:
    """"The current safety officer is Ignatius Prewe" -> "Who is the current safety officer?"."""
    if span.kind != NAME:
        return None
    before = unit.text[: span.start]
    match = re.search(r"(?:^|[,;]\s|\band\s)(?:The|the)\s+(?P<role>(?:[\w’'-]+\s){0,6}?[\w’'-]+)\s+"
                      r"(?P<verb>is|was|has been)\s+(?:now\s+|currently\s+)?$", before)
    apposition = re.search(r"\b(?:the|its|their|our|your)\s+(?P<role>(?:[\w’'-]+\s){0,3}?[\w’'-]+),\s+"
                           r"(?:currently\s+|now\s+)?$", before)  # a title after the comma: a restatement drops it
    after = unit.text[span.start + len(span.text):]
    # "Teodora Vance-Ellery, Head of Scheme Operations, ...": the post after the name
    post = re.match(r",\s+(?:(?:the|our)\s+(?P<lower>(?:[a-z][\w-]*\s){0,3}[a-z][\w-]*)|(?P<upper>[A-Z][\w-]*"
                    r"(?:\s+(?:[A-Z][\w-]*|of|and|for|the)){0,6}))\s*(?:[,;.]|$)", after)
    if match and any(word.lower().rstrip("s") in _ROLE_WORDS for word in match.group("role").split()):
        verb = "is" if match.group("verb") == "has been" else match.group("verb")
        question = _tidy(f"Who {verb} the {match.group('role')}")
        role = match.group("role").split()
        last = next((i for i in range(len(role) - 1, 1, -1) if role[i].lower() in _PREPOSITIONS - {"of"}), None)
        if quoted_run(question, unit.text) >= QUOTE_LIMIT and last is not None:
            # "The holder of the Bank Seat since 2022 has been ..." -> "Since 2022, who has been the holder of the
            # Bank Seat?": the role's last phrase leads, so the question does not quote the sentence.
            phrase = " ".join(role[last:])
            return _tidy(f"{phrase[:1].upper()}{phrase[1:]}, who {match.group('verb')} the {' '.join(role[:last])}")
        return question
    if match and _RANKED.match(match.group("role")) and len(span.text.split()) <= 4 and re.match(
            r"\s*[,;.(]|\s*$|\s+(?:who|which|since|until)\b", unit.text[span.start + len(span.text):]):
        # "The newest Drover is MV Saint Elvary" -> "What is the newest Drover?" (a first, last or most of a kind)
        verb = "is" if match.group("verb") == "has been" else match.group("verb")
        which = "Which" if re.match(r"\S+ of\b", match.group("role")) else "What"  # "the oldest of the class"
        return _tidy(f"{which} {verb} the {match.group('role')}")
    if apposition and apposition.group("role").split()[-1].lower() in _ROLE_WORDS:
        return _tidy(f"Who is the {apposition.group('role')}")
    role = post and (post.group("lower") or post.group("upper"))
    if role and any(word.lower() in _ROLE_WORDS for word in (role.split()[0], role.split()[-1])) and \
            role.split()[-1] not in ("of", "and", "for", "the"):
        return _tidy(f"Who is the {role}")
    return None


_RANKED = re.compile(r"^(?:first|last|only|oldest|newest|youngest|largest|smallest|longest|shortest|highest|lowest|"
                     r"busiest|biggest|fastest|slowest|steepest|deepest|\w+est)\s+\S", re.IGNORECASE)


def _appositive_question(unit: Unit, span: Span) -> str | None:
    """"Dunmarrow Point, code DMP" / "MV Annick Marrow, hull code VF-07" -> "What is the code of ...?"."""
    if span.kind not in (CODE, NAME):
        return None
    match = re.search(r"(?P<name>(?:(?:MV|SS)\s)?[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,3}),\s+(?:the\s+)?"
                      r"(?P<label>(?:[a-z]+\s){0,2}(?:code|number|abbreviation|reference|call sign))\s+$",
                      unit.text[: span.start])
    if match:
        return _tidy(f"What is the {match.group('label')} of {match.group('name')}")
    held = re.search(r"^(?P<subject>(?:The|the|Each|each|Every|every)\s+[\w’'-]+(?:\s+[\w’'-]+){0,3})\s+"
                     r"(?:has|have|had|bears|carries|uses)\s+the\s+(?P<label>(?:[a-z]+\s){0,2}(?:code|number))\s+$",
                     unit.text[: span.start])
    if held and span.kind == CODE:
        return _tidy(f"What is the {held.group('label')} of {held.group('subject')[:1].lower()}"
                     f"{held.group('subject')[1:]}")
    return None


def _label_question(unit: Unit, span: Span) -> str | None:
    """A ``Label: value`` line whose value starts with the fact: "What is the label?" (or "Who ...")."""
    match = _LABEL_LINE.match(unit.text)
    if not match or unit.cells or match.start("value") != span.start:
        return None
    label = match.group("label").strip()
    if len(label.split()) == 1 and label.lower() not in _MEASURE_NOUNS and label.lower().rstrip("s") not in \
            _ROLE_WORDS and not unit.group:
        return None  # "Train: 101", "Ticket: Season Card": a one-word label is a column, not a question
    if re.fullmatch(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)+", label):
        return None  # "Orlan Bridge: Henrike Dallow-Marsh": the label names a place, not what the value is
    if re.match(r"\s*(?:to|until|till|-|–)\s*\S", unit.text[span.start + len(span.text):]):
        return None  # "Monday to Friday .... 8:00am to 7:00pm": one end of a range is not the answer
    *thing, last = label.split()
    if thing and verb_form(last) in ("VBZ", "VBD") and (span.kind in (DATE, TIME, YEAR) or not can_be("NOUN", last)):
        # "Offer closes: 31 October 2025": a clause, not a thing ("What is the offer closes?")
        if span.kind in (DATE, TIME) and verb_form(last) == "VBZ" and is_noun(thing[-1].lower()):
            return _tidy(f"When does the {' '.join(thing).lower()} {lemma(last)}")
        return None
    if label[:1].isdigit() and not unit.group:
        return None  # "25 to 40 kg: £390.00" says which weight, not what is priced: only under a group line
    label = label[0].lower() + label[1:] if not label[:2].isupper() else label
    who = span.kind == NAME and label.split()[-1].lower() in _ROLE_WORDS
    head = re.sub(r"\s*\([^)]*\)$", "", label).split()[-1].lower()
    kind = span_unit_kind(span) if span.kind == NUMBER else ""
    if kind in ("currency", "percent") and head not in _MEASURE_NOUNS:
        # "Fridge or freezer (each): £28.00" names what is priced, not the price: asked as a listed value, under
        # its group where an indented list has one ("Annual booster" under "Dogs" and again under "Cats").
        asked = "How much" if kind == "currency" else "What percentage"
        if unit.group and re.match(r"(?:\d|(?:under|over|up to|from|above|below)\b)", label):
            return _tidy(f"{asked} is listed for {unit.group}: {label}")  # a band of the group ("25 to 40 kg")
        under = f" under {unit.group}" if unit.group else ""
        question = _tidy(f"{asked} is listed for {label}{under}")
        if quoted_run(question, unit.text) >= QUOTE_LIMIT:  # "standard pitch (3 m by 3 m)": its note can go
            question = _tidy(f"{asked} is listed for {bare_name(label)}{under}")
        return question
    return _tidy(f"{'Who' if who else 'What'} is the {label}")


_AGENT_VERBS = frozenset(["became", "founded", "lent", "led", "built", "designed", "wrote", "won", "chaired",
                          "proposed", "joined", "bought", "sold", "donated", "gave", "signed", "ran", "owned",
                          "managed", "took", "leads", "runs", "owns", "manages", "prepares", "prepared", "holds",
                          "held", "started", "opened", "created", "invented", "discovered", "established",
                          "funded", "funds", "supplied", "supplies", "inspects", "inspected", "trains", "trained",
                          "wrote", "painted", "named", "elected", "appointed", "hired", "succeeded", "replaced"])


def _subject_name_question(unit: Unit, span: Span) -> str | None:
    """A person's name as the clause's subject: "In 2004 Marguerite Tollan-Vey became the first woman to be
    elected Head Steward." -> "Who became the first woman to be elected Head Steward in 2004?"; a quoted term
    that "means" something: '"Code Bittern" means that ...' -> "Which code means that ...?"."""
    if span.kind not in (NAME, CODE):
        return None
    after = unit.text[span.start + len(span.text):]
    means = re.match(r"[\"”’']?\s+means\s+(?:that\s+)?(?P<rest>[^.;]+)", after)
    if means:
        return _tidy(f"Which {span.text.split()[0].lower()} signals {means.group('rest')}")
    before = unit.text[: span.start].split()
    if before and before[-1] in ("the", "The"):
        before = before[:-1]
    if before and not (before[0].lower() in _PREPOSITIONS and len(before) <= 5 and not any(
            t.endswith((",", ";")) for t in before[:-1])):
        return None
    words = span.text.split()
    if span.kind != NAME or not 2 <= len(words) <= 4:
        return None
    rest = re.match(r"\s+(?P<rest>(?:[^,;.]|[,.](?=\d))+)", after)
    if not rest:
        return None
    tail = re.sub(r"\bto be (\w+ed)\b", r"\1", rest.group("rest")).split()  # "the first woman to be elected"
    cut = next((i for i in range(3, len(tail)) if tail[i].lower() in ("to", "and", "after", "before", "because",
                                                                       "when", "while", "so")), None)
    tail = tail[:cut] if cut is not None else tail
    if not tail or tail[0].lower() not in _AGENT_VERBS or len(tail) > 12:
        return None
    moved = " ".join([before[0].lower(), *before[1:]]).rstrip(",") if before else ""
    return _tidy(f"Who {' '.join(tail)} {moved}")


_AMOUNT_OF = re.compile(r"^\s+of\s+(?P<noun>[a-z][\w-]*(?:\s+[a-z][\w-]*)?)\s+"
                        r"(?P<verb>(?:is|are|was|were)|(?:can|must|may|should|will)\s+be)\s+(?P<rest>[a-z][^,;:.]*)")


def _amount_question(unit: Unit, span: Span) -> str | None:
    """An amount that opens the sentence: "About 470 ml of blood is collected into a sterile bag." -> "How much
    blood is collected into a sterile bag?" (a plural noun: "How many kg of apples are ...?"); the last phrase goes
    while the question would quote the sentence."""
    if span.kind != NUMBER or not span.unit or span_unit_kind(span) != "count":
        return None
    opening = unit.text[: span.start].strip().lower()
    if opening and opening not in _QUALIFIERS:
        return None
    match = _AMOUNT_OF.match(unit.text[span.start + len(span.text):])
    if not match or not is_noun(match.group("noun").split()[-1]):
        return None
    noun, rest = match.group("noun"), match.group("rest").split()
    plural = is_plural_noun(noun.split()[-1])
    words = f"How many {span.unit} of {noun}" if plural else f"How much {noun}"
    verb = match.group("verb") if plural else {"are": "is", "were": "was"}.get(match.group("verb"), match.group("verb"))
    while rest:
        question = _tidy(f"{words} {verb} {' '.join(rest)}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
        cut = _last_preposition(rest)
        rest = rest[:cut] if cut else []
    return None


def _measure_subject_question(unit: Unit, span: Span) -> str | None:
    """A measure named with its amount as the subject: "A one-off joining fee of £25.00 is charged on every new
    membership." -> "How much is the one-off joining fee?"."""
    if span.kind != NUMBER or (not span.unit and span.text[:1] not in "€$£"):
        return None
    match = re.match(r"^(?:A|An|The)\s+(?P<words>(?:[\w’'-]+\s+){0,3}?(?P<noun>[a-z]+))\s+of\s+$",
                     unit.text[: span.start])
    after = unit.text[span.start + len(span.text):]
    if not match or match.group("noun") not in _MEASURE_NOUNS or not re.match(
            r"\s+(?:is|are|was|were|applies|apply|will be|must be|may be)\b", after):
        return None
    words = "How much" if span_unit_kind(span) == "currency" else "What"
    return _tidy(f"{words} is the {match.group('words')}")


_MEASURE_OBJECT = re.compile(r"(?:^|[\s(])(?:(?P<det>a|an|the|A|An|The)|(?P<owner>the\s+[a-z]+[’']s))\s+"
                             r"(?P<words>(?:[a-z][\w’'-]*\s+){0,3}?[a-z][\w’'-]*)\s+of\s+"
                             r"(?P<qualifier>(?:not less than|not more than|no less than|no more than|up to|at least|"
                             r"at most|about|around)\s+)?$")
#: Measure nouns too general to ask about alone ("How much is the charge?" of a page of charges).
_GENERAL_MEASURES = frozenset(["sum", "total", "charge", "minimum", "maximum", "amount", "rate", "range", "period",
                               "term", "limit", "share", "increase", "reduction", "rise", "growth", "balance", "fee",
                               "cost", "price", "discount", "budget", "deposit", "fine"])


_AMOUNT_FOR = r"[€$£]?\d[\d,.]*(?:\s?[a-z%]+)?\s+for\s+[^,;]+?"


def _amount_for_question(unit: Unit, span: Span) -> str | Refused | None:
    """Amounts of one thing for different cases: "The lost bicycle charge is £450 for a classic bicycle and £1,200
    for an e-bike." -> "How much is the lost bicycle charge for an e-bike?" (asked without its case, each amount
    would be a wrong answer to the other's question)."""
    if span.kind != NUMBER or (not span.unit and span_unit_kind(span) != "currency"):
        return None
    case = re.match(r"\s+for\s+(?P<case>(?:an?\s+|the\s+|each\s+|every\s+)?[^,;.]+?)(?=\s*(?:[,;.]|$)|\s+(?:and|or|"
                    r"but|less|plus|with|if|unless|when)\b)", unit.text[span.start + len(span.text):])
    subject = re.match(rf"^(?P<subject>(?:The|A|An|Each|Every)\s+[^,;]+?)\s+(?P<verb>is|are|was|were)\s+"
                       rf"(?:{_AMOUNT_FOR}(?:,\s+(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+))*$", unit.text[: span.start])
    if not case or not subject:
        return None
    if len(case.group("case").split()) > 8:  # asked without its long case, the amount would read as the only one
        return Refused("the amount holds for a case too long to ask (\"£52 for runners who belong to ...\")")
    asked = "How much" if span_unit_kind(span) == "currency" else "What"
    return _tidy(f"{asked} {subject.group('verb')} {_lower_first(subject.group('subject'))} for {case.group('case')}")


def _measure_object_question(unit: Unit, span: Span) -> str | None:
    """A measure named with its amount anywhere in the sentence: "Drivers aged 23 or 24 pay a young driver
    surcharge of £15 per day." -> "How much is the young driver surcharge?"; "... the bridge's closed clearance of
    3.4 metres" -> "What is the bridge's closed clearance?". Only a measure noun ("surcharge", "clearance"), and
    a general one ("charge", "increase") only with a word that says which ("the minimum charge")."""
    if span.kind != NUMBER or (not span.unit and span_unit_kind(span) != "currency") or span.start == 0:
        return None
    match = _MEASURE_OBJECT.search(unit.text[: span.start])
    if not match:
        return None
    words = match.group("words").split()
    head = words[: words.index("of")] if "of" in words else words  # "limit of indemnity": a limit
    if not head or head[-1] not in _MEASURE_NOUNS | {"surcharge", "remission"} or any(w in _DETERMINERS
                                                                                      for w in words):
        return None
    if len(words) == 1 and words[0] in _GENERAL_MEASURES:
        which = re.match(r"\s+(?P<phrase>(?:on|in|to|for)\s+(?:[a-z][\w-]*\s+){0,2}[a-z][\w-]*)(?=[,;.]|\s+(?:which|"
                         r"that|and|but|from|with)\b|$)", unit.text[span.start + len(span.text):])
        if not which:
            return None
        words = [*words, *which.group("phrase").split()]  # "an increase of 2.7 per cent on net rents"
    if match.group("det") and match.group("det").lower() == "the" and match.start() == 0 and \
            re.match(r"\s+(?:is|are|was|were)\b", unit.text[span.start + len(span.text):]):
        return None  # "The fee of £5 is ...": the subject rule's
    owner = f"{match.group('owner').removeprefix('the ')} " if match.group("owner") else ""  # "the bridge's"
    asked = {"currency": "How much", "percent": "What percentage"}.get(span_unit_kind(span), "What")
    return _tidy(f"{asked} is the {owner}{' '.join(words)}")


def _age_question(unit: Unit, span: Span) -> str | None:
    """An age threshold: "Passengers aged 67 or over pay half fare" -> "From what age do passengers pay half
    fare?" ("aged under 5 travel free": "Below what age ...?")."""
    if span.kind != NUMBER or span.unit not in ("", "years"):
        return None
    before, after = unit.text[: span.start], unit.text[span.start + len(span.text):]
    opening = re.match(r"^(?P<subject>[A-Z][\w’'-]*(?:\s+[\w’'-]+){0,4}?)\s+aged\s+(?P<under>under\s+)?$", before)
    if not opening:
        return None
    over = re.match(r"^\s+(?:or|and)\s+(?:over|older|above)\b", after)
    if bool(over) == bool(opening.group("under")):
        return None
    rest = re.match(r"^\s*(?P<rest>[^,;.()]+)", after[over.end():] if over else after)
    if not rest:
        return None
    subject, verb, *predicate = [opening.group("subject").split(), *rest.group("rest").split()]
    if verb.lower() in AUXILIARIES and predicate:
        helper = verb.lower()
    elif verb.islower() and verb_form(verb) in ("VB", "VBZ", "VBD"):
        helper = {"VB": "do", "VBZ": "does", "VBD": "did"}[verb_form(verb)]
        predicate = [lemma(verb), *predicate]
    else:
        return None
    words = "Below what age" if opening.group("under") else "From what age"
    subject_text = _lower_first(" ".join(subject)) if subject[0] in _LOWER_STARTS or (
        subject[0][1:].islower() and not subject[0].isupper() and can_be("NOUN", subject[0])) else " ".join(subject)
    subject_text = subject_text[:1].lower() + subject_text[1:] if can_be("NOUN", subject[0]) else subject_text
    while True:
        question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)}")
        last = _last_preposition(predicate)
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
        if last is None:
            return None
        predicate = predicate[:last]


_NAMING = re.compile(r"(?:^|\s)(?P<verb>called|named|nicknamed|dubbed|titled|renamed|known\s+as)\s+"
                     r"[\"“‘']?(?:the\s+|The\s+)?[\"“‘']?$")
_COPULA_HEAD = re.compile(r"^(?P<subject>[A-Z][^,;:]*?)\s+(?P<aux>is|are|was|were)(?:\s+(?:now|also|still|commonly|"
                          r"usually|locally|simply|officially|popularly|often|affectionately))?"
                          r"(?:\s+(?:a|an|the)\s+(?:[\w’'-]+\s+){0,3}[\w’'-]+)?$")
_NAMED_NOUN = re.compile(r"(?:^|\s)(?:a|an|the|A|An|The)\s+(?P<np>(?:[\w’'-]+\s+){0,3}[\w’'-]+),?$")


def _called_question(unit: Unit, span: Span, salient: frozenset[str] = frozenset()) -> str | Refused | None:
    """A name given by "called", "named" or "known as": "The reserve fund is called the Winter Chest" -> "What is
    the reserve fund called?"; "The mascot is a heron called Pim" -> "What is the mascot called?"; "..., where she
    serves as a floating café called The Crane's Table" -> "What is the floating café called?"; "The ninth seat,
    known as the Bank Seat, ..." -> "What is the ninth seat known as?"."""
    if span.kind not in (NAME, CODE):
        return None
    before = unit.text[: span.start]
    naming = _NAMING.search(before)
    if not naming:
        return None
    verb = " ".join(naming.group("verb").split())
    head = before[: naming.start()].rstrip()
    past = re.search(r"\b(?:was|were)\b", head) is not None or (
        bool(head.split()) and verb_form(head.split()[-1]) == "VBD")
    copula = _COPULA_HEAD.match(head)
    if copula and not re.search(r"\b(?:that|which|who|where|when)\b", copula.group("subject")):
        subject = copula.group("subject").split()
        aux = copula.group("aux")
    else:
        noun = _NAMED_NOUN.search(head)
        if not noun:
            return None
        words = noun.group("np").split()
        if any(w[:1].isdigit() or w.lower() in _PREPOSITIONS | _SUBORDINATE for w in words):
            return None
        if len(words) < 2:  # "a launch named Tansy Hollow": which launch, of the many a fleet has?
            return Refused('the thing named is a bare "the <noun>" the question cannot place')
        subject = ["the", *words]
        plural = is_plural_noun(words[-1])
        aux = ("were" if plural else "was") if past else ("are" if plural else "is")
        if noun.start() == 0:  # "The ninth seat, known as ...": the sentence opens with what is named
            subject = head.rstrip(",").split()
    subject_text = _asked_subject(subject, salient, True, unit)
    if isinstance(subject_text, Refused):
        return subject_text
    return _tidy(f"What {aux} {subject_text} {verb}")


def _reference_question(unit: Unit, span: Span) -> str | None:
    """A numbered reference that opens its sentence, asked with "which": "Article 7 of the Revised Charter
    establishes the principle of one member, one vote." -> "In the Revised Charter, which article establishes the
    principle of one member?" (its "of" phrase leads when the question would otherwise quote the sentence)."""
    if not is_reference(span) or unit.text[: span.start].strip(" \"“‘'") not in ("", "The", "the"):
        return None
    after = re.match(r"(?P<of>\s+of\s+(?:the\s+)?[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)?\s+(?P<rest>[^,;.:]+)",
                     unit.text[span.start + len(span.text):])
    if not after:
        return None
    rest = after.group("rest").split()
    first = rest[0]
    if not (first in AUXILIARIES or (first.isalpha() and first.islower() and verb_form(first) in ("VBZ", "VBD"))):
        return None
    noun = span.text.split()[0].lower()
    of = " ".join((after.group("of") or "").split())
    lead = f"In {of[3:]}, which {noun}" if of else ""
    for opening in (f"Which {noun} {of}", lead):
        if not opening:
            continue
        words = list(rest)
        while True:
            question = _tidy(f"{opening} {' '.join(words)}")
            if quoted_run(question, unit.text) < QUOTE_LIMIT and (len(words) > 3 or words == rest) and not \
                    _predicate_problem(words):
                return question  # a cut that leaves three words or fewer ("forbids the cooperative") lost the rule
            last = _last_preposition(words, 2)
            if last is None:
                break
            words = words[:last]
    return None


_DESCRIBED = re.compile(r"^(?P<subject>[A-Z][^,;:]*?)\s+(?P<aux>is|are|was|were)\s+(?:a|an|the|[A-Z][\w’'-]*[’']s)\s+"
                        r"(?P<noun>[^,;:]*?),?\s+(?P<participle>[a-z]+ed|[a-z]+en|built|made|sold|held|run|won|"
                        r"set|kept|led|bought|founded)\s+(?P<between>(?:[^,;:]*\s)?)(?P<prep>[a-z]+)\s+$")
_STATES = frozenset(["based", "located", "situated", "headquartered", "used", "owned", "operated", "run", "managed",
                     "made", "kept", "held", "known", "designed", "intended", "registered", "listed", "rated"])


def _described_question(unit: Unit, span: Span, salient: frozenset[str] = frozenset()) -> str | Refused | None:
    """A fact in a participle phrase that describes a copular sentence's subject: "Lumenhollow Instruments is a
    hydrology-sensor company founded on 3 May 2019 ..." -> "On what date was Lumenhollow Instruments founded?";
    "The Tessel T4 is Lumenhollow's fourth sensor, released on 17 October 2023." -> "On what date was the Tessel T4
    released?"."""
    match = _DESCRIBED.match(unit.text[: span.start])
    if not match or not has_form(match.group("participle"), "VBN") or re.search(
            r"\b(?:that|which|who|whom|whose|where|when)\b", match.group("subject") + " " + match.group("noun")):
        return None
    wh = wh_phrase(span, match.group("prep"))
    if wh is None or not wh[1]:
        return None
    subject = match.group("subject").split()
    subject_text = _asked_subject(subject, salient, False, unit)
    if isinstance(subject_text, Refused):
        return subject_text
    participle = match.group("participle")
    plural = match.group("aux") in ("are", "were")
    aux = match.group("aux") if participle in _STATES else ("were" if plural else "was")  # "based in": a state
    between = match.group("between").split()
    while True:
        question = _tidy(f"{wh[0]} {aux} {subject_text} {participle} {' '.join(between)}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
        last = _last_preposition(between, 0)
        if last is None:
            return None
        between = between[:last]


_MANDATE = re.compile(r"^(?P<who>.*?)\b(?:requires?|required|demanded|stipulates?|stipulated|insists?|insisted|"
                      r"specifies|specified|ordered|ruled|decreed|mandates|mandated) that\s+(?P<rest>.+)$")


def _mandate(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """A fact in a mandate's clause ("The charter requires that the Winter Chest hold 18 percent ...") as the plain
    rule it states ("the Winter Chest must hold 18 percent ..."), with the span moved to match; None when the clause
    after "that" has no bare verb after its subject (it is then a statement, not a mandate)."""
    match = _MANDATE.match(unit.text)
    if not match or span.start < match.start("rest"):
        return None
    rest = match.group("rest")
    tokens = rest.split()
    at = next((i for i in range(1, min(len(tokens), 8)) if tokens[i].isalpha() and tokens[i].islower()
               and verb_form(tokens[i]) == "VB" and tokens[i - 1].lower() not in _DETERMINERS
               and not can_be("ADJ", tokens[i])), None)
    if at is None or any(t.endswith((",", ";")) for t in tokens[:at]):
        return None
    offset = len(" ".join(tokens[:at])) + 1  # where the verb starts in ``rest``
    text = f"{rest[:offset]}must {rest[offset:]}"
    text = text[:1].upper() + text[1:]
    start = span.start - match.start("rest") + (len("must ") if span.start - match.start("rest") >= offset else 0)
    if text[start:start + len(span.text)] != span.text:
        return None
    return Unit(text, unit.kind, unit.heading, unit.cells, unit.previous), Span(span.text, span.kind, start,
                                                                                  span.unit, span.value)


def word_question(unit: Unit, span: Span, salient: frozenset[str] = frozenset()) -> tuple[str, int] | Refused | None:
    """The question whose answer is ``span`` in ``unit`` and how sure the rule is of its wording (0: a shape of its
    own or a clause inverted around its verb; 1: a condition asked with "when"/"under what condition"),
    :class:`Refused` when a rule fits but its question would read badly (the generator counts why), or None when
    no rule fits. ``salient``: the words of the document's title and headings ("the manual" is plain there).
    A sentence that gives no question as written is tried restated (:mod:`pipelines.evaluation.question_restate`:
    a fronted phrase moved last, a role, an appositive or a relative clause dropped)."""
    if (plain := present_adverb_dropped(unit, span)) is not None:
        unit, span = plain
    worded = _word_as_written(unit, span, salient)
    if isinstance(worded, tuple):
        return worded
    for restated in restatements(unit, span):
        again = _word_as_written(*restated, salient)
        if isinstance(again, tuple):
            return again
    return worded


def _word_as_written(unit: Unit, span: Span, salient: frozenset[str]) -> tuple[str, int] | Refused | None:
    for rule in (_label_question, _appositive_question, _role_question, _subject_name_question, _age_question,
                 _reference_question, _amount_question, _amount_for_question, _measure_subject_question):
        question = rule(unit, span)
        if isinstance(question, Refused):
            return question
        if question:
            return question, 0
    described = _described_question(unit, span, salient)
    if isinstance(described, str):
        return described, 0
    called = _called_question(unit, span, salient)
    if isinstance(called, Refused):
        return called
    if called:
        return called, 0
    question = _clause_question(unit, span, salient)
    if question is None and (mandated := _mandate(unit, span)) is not None:
        question = _clause_question(*mandated, salient)
    if question is None or isinstance(question, Refused):
        # The measure the amount is "of" names it, where the clause gives no question: "Drivers aged 23 or 24 pay a
        # young driver surcharge of £15 per day." (a clause question, where there is one, says more)
        measure = _measure_object_question(unit, span)
        return (measure, 0) if measure else question
    if len(question.split()) < 4 or (re.search(r"\b(?:the|a|an|of|and|or|its|their|his|her|our|your)\?$", question)
                                     and not re.search(r"\b(?:consist|made up|composed) of\?$", question)):
        return Refused("question is cut short")
    return question, 1 if question.startswith(("When ", "Under what condition ")) else 0


def _singular_header(header: str) -> tuple[str, str]:
    """A column header without its unit in brackets, and the unit: "Mileage to date (km)" -> ("mileage to date",
    "km")."""
    match = re.match(r"^(?P<name>.*?)\s*\((?P<unit>[^)]+)\)\s*$", header)
    name, unit = (match.group("name"), match.group("unit")) if match else (header, "")
    keep = name[:2].isupper() or any(word[:1].isupper() for word in name.split()[1:])  # "Skarnholt Summit dep."
    return (name if keep else name[:1].lower() + name[1:]), unit


def cell_question(entity: str, header: str, span: Span) -> str | None:
    """A question about one table cell: "What builder is listed for Orla?", "How many seats does Skylark have?",
    "In what year was Orla built?"."""
    name, unit = _singular_header(header)
    if re.fullmatch(r"(?:1[6-9]|20)\d\d(?:[/-]\d{2,4})?", header.strip()) and entity and span.kind == NUMBER:
        return _tidy(f"What figure is listed for {entity} for {header.strip()}")  # a year's column ("2024")
    if not name[:1].isalpha() or not entity or re.search(r"\d", unit):
        return None  # "1 to 3 days", "Summer (1 April to 30 September)": a band or a season, not a thing's name
    timed = re.fullmatch(r"(?P<place>.+?)\s+(?P<way>arr|dep|arrival|departure)\.?", header.strip(), re.IGNORECASE)
    if timed and span.kind == TIME:  # "Skarnholt Summit arr." -> "What arrival time at Skarnholt Summit ...?"
        way = "arrival" if timed.group("way").lower().startswith("arr") else "departure"
        return _tidy(f"What {way} time at {timed.group('place')} is listed for {entity}")
    if re.fullmatch(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'.-]*)+\.?|[A-Z][a-z]+(?:\s+[a-z]+\.)", header.strip()):
        name = header.strip()  # a column named after a place ("Hollin Gap", "Skarnholt Summit arr."): keep its case
        if span.kind == TIME:
            return _tidy(f"What time is listed under {name} for {entity}")
    year = re.match(r"^year\s+(?P<verb>\w+)$", name, re.IGNORECASE)
    if year and span.kind in (YEAR, NUMBER):
        return _tidy(f"In what year was {entity} {year.group('verb').lower()}")
    word = name.strip().rstrip(".")
    if " " not in word and word.isalpha() and verb_form(word) and (not can_be("NOUN", word) or (
            span.kind == TIME and verb_form(word) == "VBZ")):
        # A column named by a verb: "Installed" 1987 -> "In what year was Oven A installed?"; "Opens" 07:00 ->
        # "What time is listed under Opens for Monday?" ("What opens is listed ...?" would not parse).
        if span.kind in (YEAR, DATE) and verb_form(word) in ("VBN", "VBD"):
            return _tidy(f"{'In what year' if span.kind == YEAR else 'On what date'} was {entity} {word.lower()}")
        if span.kind == TIME:
            return _tidy(f"What time is listed under {word[:1].upper()}{word[1:]} for {entity}")
        return None
    in_unit = f", in {unit}" if unit else ""
    if span.kind == NUMBER and not span.unit and name.lower().endswith("s") and not name.lower().endswith("ss"):
        return _tidy(f"How many {name.lower() if not name.isupper() else name} does {entity} have{in_unit}")
    verb = "are" if is_plural_noun(name.split()[-1]) else "is"
    return _tidy(f"What {name} {verb} listed for {entity}{in_unit}")


def comparison_question(entity_a: str, entity_b: str, attribute: str, later: bool) -> str:
    """"Comparing Skylark and Merlin, what is the higher number of seats?" (dates and years: "the later")."""
    word = "later" if later else "higher"
    return _tidy(f"Comparing {entity_a} and {entity_b}, what is the {word} {attribute}")


def superlative_question(kind: str, attribute: str, highest: bool) -> str | None:
    """"Which library has the fewest visits?" for a table whose rows are of ``kind`` (the name column's header)
    and whose ``attribute`` column holds numbers; None when either header cannot be worded so."""
    kind_name, _ = _singular_header(kind)
    name, _ = _singular_header(attribute)
    if not re.fullmatch(r"[A-Za-z][\w’'-]*(?: [a-z][\w’'-]*){0,2}", kind_name) or not name[:1].isalpha() or \
            kind_name.lower() in ("no", "item", "name", "row") or not is_noun(kind_name.split()[-1].lower()):
        return None
    kind_name = kind_name.lower() if not kind_name[:2].isupper() else kind_name
    name = name.rstrip(".")
    counted = is_plural_noun(name.split()[-1].lower()) and not name.lower().endswith("ss")
    word = ("most" if highest else "fewest") if counted else ("highest" if highest else "lowest")
    return _tidy(f"Which {kind_name} has the {word} {name[:1].lower() + name[1:] if not name[:2].isupper() else name}")


def joined_question(first: str, second: str) -> str:
    """Two questions of one document asked as one: "In what year was X built, and how many ...?"."""
    second = second.rstrip("?")
    head = second.split(" ", 1)[0]
    if head not in ("MV", "SS") and not (len(head) > 1 and head[1:2].isupper()):
        second = second[:1].lower() + second[1:]
    return _tidy(f"{first.rstrip('?')}, and {second}")


#: A question sharing this many consecutive words with its sentence quotes it (the hand-written dev and test
#: questions share at most 6 with theirs).
QUOTE_LIMIT = 7


def quoted_run(question: str, reference: str) -> int:
    """The longest run of consecutive words the question shares with its reference (case and punctuation
    ignored): the measure of "quotes the sentence"."""
    q = re.findall(r"[\w’'-]+", question.lower())
    r = re.findall(r"[\w’'-]+", reference.lower())
    best = 0
    previous = [0] * (len(r) + 1)
    for word in q:
        current = [0] * (len(r) + 1)
        for j, other in enumerate(r, start=1):
            if word == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


