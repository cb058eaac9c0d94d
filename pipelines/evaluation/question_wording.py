"""Word a question for a fact by rules: the clause around the fact turned into a question, not a quote of it.

The fact's clause is inverted around its verb ("MV Annick Marrow can carry 24 cars." becomes "How many cars can
MV Annick Marrow carry?"; "A full top-up charge takes 22 minutes." becomes "How many minutes does a full top-up
charge take?"), with the question word chosen by what the fact is (a year after "in": "In what year ...?", a sum
of money: "How much ...?", a name after "by": "By whom ...?"). A few shapes have their own form: "the fleet
superintendent is Desmond Arkwhistle" ("Who is the fleet superintendent?"), an appositive code ("Dunmarrow Point,
code DMP": "What is the code of Dunmarrow Point?"), a ``Label: value`` line, and a table cell ("What builder is
listed for Orla?"). A fact whose clause fits none of these gets no question (it is not counted as a fact).

Only the clause that holds the fact is used: what follows the fact is dropped, a leading "In 2023," moves to the end,
and "she" or "it" at the start is replaced by the name the sentence before it is about.

Example::

    word_question(Unit("MV Annick Marrow can carry 24 cars and 180 passengers.", "sentence"), span)
    # 'How many cars can MV Annick Marrow carry?'
"""

from __future__ import annotations

import re

from pipelines.evaluation.question_facts import (
    CODE,
    DATE,
    NAME,
    NUMBER,
    TIME,
    YEAR,
    Span,
    Unit,
    fact_spans,
    span_unit_kind,
)

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
                           "Those", "Some", "Any", "No", "Both", "Our", "Your", "Most", "Many", "Several", "Such"])
_SUBORDINATE = frozenset(["which", "that", "who", "whom", "whose", "where", "when", "while", "because", "although",
                          "though", "if", "unless", "whereas", "once", "whenever"])
_NUMBER_WORDS = frozenset(["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])
_PRONOUNS = frozenset(["She", "He", "It", "They", "Her", "His", "Its", "Their", "This"])
_DETERMINERS = frozenset(["the", "a", "an", "each", "every", "all", "its", "their", "her", "his", "this", "these",
                          "those", "some", "any", "no", "both", "our", "your", "most", "many", "several", "such",
                          "one", "two", "three", "four", "five", "six"])
_IRREGULAR_PAST = {"built": "build", "sold": "sell", "held": "hold", "made": "make", "kept": "keep", "paid": "pay",
                   "led": "lead", "lost": "lose", "bought": "buy", "brought": "bring", "spent": "spend",
                   "lent": "lend", "took": "take", "ran": "run", "became": "become", "began": "begin",
                   "left": "leave", "rose": "rise", "fell": "fall", "went": "go", "came": "come", "gave": "give",
                   "won": "win", "stood": "stand", "sent": "send", "met": "meet", "chose": "choose", "wrote": "write",
                   "drew": "draw", "grew": "grow", "knew": "know", "saw": "see", "got": "get", "found": "find",
                   "set": "set", "cost": "cost", "put": "put", "read": "read", "said": "say", "told": "tell",
                   "sat": "sit", "burnt": "burn", "felt": "feel", "froze": "freeze", "hung": "hang", "shot": "shoot",
                   "taught": "teach", "thought": "think", "fought": "fight", "struck": "strike", "swam": "swim"}
_KEEP_E = re.compile(r"(?:[aeiou][sczvgk]|[aeiou]u|[^aeiou][gc]|[aeiou]r|ag|at)$")
_ROLE_WORDS = ("officer", "foreman", "manager", "chair", "head", "director", "superintendent", "inspector",
               "secretary", "steward", "guide", "driver", "captain", "pilot", "engineer", "author", "president",
               "master", "keeper", "controller", "founder", "treasurer", "leader", "chief", "coordinator", "warden",
               "stationmaster", "mayor", "owner", "clerk", "editor", "conductor", "holder", "chairman", "chairwoman",
               "head", "principal", "partner", "architect", "designer", "builder")
_LABEL_LINE = re.compile(r"^(?P<label>[A-Z][\w ’'()/-]{1,40}):\s+(?P<value>\S.*)$")


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
    """The bare form of a finite verb ("takes" -> "take", "stayed" -> "stay", "sold" -> "sell"), by rules."""
    lower = verb.lower()
    if lower in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[lower]
    if lower.endswith("ied"):
        return lower[:-3] + "y"
    if lower.endswith("ed"):
        stem = lower[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
            return stem[:-1]
        return stem + "e" if _KEEP_E.search(stem) and not stem.endswith(("er", "ow", "ay", "ey")) else stem
    if lower.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return lower[:-2]
    if lower.endswith("ies"):
        return lower[:-3] + "y"
    if lower.endswith("s") and not lower.endswith("ss"):
        return lower[:-1]
    return lower


def _is_past(verb: str) -> bool:
    lower = verb.lower()
    return lower.endswith("ed") or lower in _IRREGULAR_PAST


def _finite_verb(word: str, before: str) -> bool:
    """Whether ``word`` reads as a finite verb (a guess without a tagger): "-s"/"-ed" or an irregular past, not
    after a determiner, not a proper name, and not a noun ending in "ss"/"us"/"is"."""
    lower = word.lower()
    if not word.isalpha() or word[0].isupper() or before.lower() in _DETERMINERS:
        return False
    if lower in _IRREGULAR_PAST and lower not in ("set", "cost", "put", "read", "found", "left"):
        return True
    if lower.endswith("ed") and len(lower) > 4 and not lower.endswith("eed"):
        return True
    return lower.endswith("s") and not lower.endswith(("ss", "us", "is", "ous")) and len(lower) > 3


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
        if not span.unit or span.unit.lower() in ("million", "billion", "thousand", "hundred"):
            return None
        if prep == "every":
            return "how often", True
        if kind == "currency":
            return "how much", prep in ("for", "at", "of", "")
        if kind == "percent":
            return ("by what percentage", True) if prep == "by" else ("what percentage", prep in ("of", ""))
        unit = "per cent" if span.unit in ("%",) else span.unit
        words = f"how many {unit}" if span.unit not in ("°C",) else "what temperature"
        if prep in ("for", "within", "after", "in", "by", "to", "from", "under", "over", "than"):
            return f"{prep} {words}", True
        return words, prep in ("of", "")
    if span.kind == NAME:
        if prep == "by":
            return "by whom", True
        if prep in ("at", "in"):
            return "where", True
        if prep == "from":
            return "from where", True
    return None


def _subject_name(text: str) -> str:
    """The first multi-word name of a sentence (what it is about), for a pronoun in the next one."""
    names = [span.text for span in fact_spans(text) if span.kind == NAME]
    return next((name for name in names if " " in name), names[0] if names else "")


def _sentence_subject(tokens: list[str]) -> list[str]:
    """The subject at the start of a sentence: the words before its first auxiliary or "-s" verb."""
    for index in range(1, min(len(tokens), 12)):
        token = tokens[index]
        if token in AUXILIARIES or (_finite_verb(token, tokens[index - 1]) and not token.lower().endswith("ed")):
            return tokens[:index]
        if token.endswith((",", ";")):
            return []
    return []


def _clause_question(unit: Unit, span: Span) -> str | None:
    """The general form: the clause inverted around its auxiliary, or with do-support around its main verb."""
    tokens = unit.text[: span.start].split()
    if not tokens:
        return None
    # Qualifiers ("up to", "about") stay with the fact; the preposition before them goes into the question words.
    for qualifier in sorted(_QUALIFIERS, key=len, reverse=True):
        words = qualifier.split()
        if [t.lower() for t in tokens[-len(words):]] == words:
            tokens = tokens[: -len(words)]
            break
    if span.kind == NAME and len(tokens) > 1 and tokens[-1] == "the":
        tokens = tokens[:-1]  # "by the Scallenby Yard"
    if tokens[-1].lower() in ("and", "or", "to", "-", "the"):
        return None  # "between 2027 and 2030", "from 1 May to 30 September": the fact is half of a pair
    prep = tokens[-1].lower() if tokens and tokens[-1].lower() in _PREPOSITIONS else ""
    wh = wh_phrase(span, prep) if prep != "of" else ("what", True)
    if wh is None:
        return None
    words, uses_prep = wh
    if prep and uses_prep:
        tokens = tokens[:-1]
    # The clause: back from the fact to a comma, semicolon or relative word; a subordinate clause ("when the
    # gauge reads below 2.8 metres") loses the main clause's meaning, so it gets no question. A relative clause
    # right after a short noun phrase ("a stoppage that lasted 19 days") is asked about that noun phrase.
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
            return None
        if token.endswith((",", ";", ":")) or token.lower() in _BOUNDARY_WORDS:
            break
        if token.lower() == "and" and start < len(tokens) and (tokens[start] in AUXILIARIES or _finite_verb(
                tokens[start], "")) and not (start >= 2 and tokens[start - 2].lower().endswith("ed")):
            start -= 1  # "... and can carry 28 cars": the clause's subject is the sentence's
            break
        start -= 1
    clause = tokens[start:]
    opening = tokens[:start]
    fronted: list[str] = []
    if opening and opening[0].lower() in _PREPOSITIONS - {"every"} and opening[-1].endswith(",") and len(opening) <= 6:
        fronted = [*opening[:-1], opening[-1].rstrip(",")]  # "In 2023, the cooperative ...": asked "... in 2023"
    elided = False
    if clause and clause[0].lower() in ("and", "but", "so", "then", "also", "now"):
        elided = clause[0].lower() == "and"
        clause = clause[1:]
    if not clause or any(t.endswith((".", "!", "?")) for t in clause) or clause[0] in ("There", "there"):
        return None
    implied: list[str] = relative
    if not implied and elided and (clause[0] in AUXILIARIES or _finite_verb(clause[0], "")):
        implied = _sentence_subject(unit.text.split())  # "She ... and can carry 28 cars": she can carry
        if not implied:
            return None
    elif not implied and clause[0].lower() in AUXILIARIES:
        return None
    if not implied and clause[0].lower() in _PREPOSITIONS - {"every"}:
        # "In the Ice Winter of 1919 the Varrowind stayed ...": the phrase moves to the end of the question.
        cut = next((i for i in range(2, len(clause)) if clause[i].lower() in ("the", "a", "an", "each", "every")),
                   None)
        if cut is None:
            return None
        fronted, clause = clause[:cut], clause[cut:]
    if implied:
        clause = [*implied, *clause]
        first_verb = len(implied)
    else:
        first_verb = 1
    aux = next((i for i, t in enumerate(clause) if t in AUXILIARIES and i >= first_verb), None)
    if aux is not None and clause[aux].lower() in ("has", "have", "had") and aux + 1 < len(clause) \
            and not re.search(r"(?:ed|en|t|wn)$", clause[aux + 1]):
        subject, verb, middle = clause[:aux], clause[aux].lower(), clause[aux + 1:]
        helper = {"has": "does", "have": "do", "had": "did"}[verb]
        predicate = ["have", *middle]
    elif aux is not None:
        subject, helper, predicate = clause[:aux], clause[aux].lower(), clause[aux + 1:]
    else:
        verb_at = next((i for i in range(first_verb, len(clause)) if _finite_verb(clause[i], clause[i - 1])), None)
        if verb_at is None or (clause[verb_at].lower().endswith("ed") and start > 0 and not implied
                               and not tokens[start - 1].endswith(";")):
            return None  # "an electrical technician based at ...": a participle, not the clause's verb
        subject, verb, middle = clause[:verb_at], clause[verb_at], clause[verb_at + 1:]
        helper = "did" if _is_past(verb) else ("does" if verb.lower().endswith("s") else "do")
        predicate = [lemma(verb), *middle]
    subject_text = _subject_text(subject, unit)
    if not subject or not subject_text or len(subject) > 12 or subject[0].lower() in _NUMBER_WORDS:
        return None
    if prep == "of":
        # "must pay a penalty fare of 45.00 drell" -> "What penalty fare must ... pay?"; "have a service speed
        # of 11 knots" -> "What is the service speed of ...?"; any other "of" qualifies a noun: no clean question.
        det = next((i for i, t in enumerate(predicate) if t.lower() in ("a", "an", "the")), None)
        noun = predicate[det + 1:] if det is not None else []
        if det is None or not 1 <= len(noun) <= 3 or any(t.lower() in _PREPOSITIONS or (not t.isalpha() and "-" not
                                                         in t) for t in noun):
            return None
        if predicate[:det] == ["have"] and helper in ("does", "do"):
            return _tidy(f"What is the {' '.join(noun)} of {subject_text}")
        if not 1 <= det <= 2:
            return None
        return _tidy(f"What {' '.join(noun)} {helper} {subject_text} {' '.join(predicate[:det])}")
    if any(t.lower().strip(",") in ("and", "or", "between") for t in predicate if t[:1].isdigit() or t.islower()) \
            and any(t[:1].isdigit() for t in predicate):
        return None  # another fact of the same pair is in the predicate
    while len(predicate) > 8:  # "taken out of the water for a full survey and overhaul": cut at a preposition
        cut = next((i for i in range(len(predicate) - 1, 1, -1) if predicate[i].lower() in _PREPOSITIONS), None)
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
    if words.startswith(("how much", "what percentage")) and predicate and predicate[-1].lower() == "of":
        predicate = predicate[:-1]
    moved = " ".join([fronted[0].lower(), *fronted[1:]]) if fronted else ""
    question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)} {moved}")
    if quoted_run(question, unit.text) < QUOTE_LIMIT:
        return question
    # Too close to the sentence: drop a participle phrase from the subject ("lost property found on any vessel"
    # -> "lost property"), then the predicate's last prepositional phrase, then the moved phrase.
    words_of_subject = subject_text.split()
    cut = next((i for i in range(1, len(words_of_subject)) if words_of_subject[i].lower() in _IRREGULAR_PAST
                or (words_of_subject[i].lower().endswith("ed") and words_of_subject[i][:1].islower())), None)
    if cut is not None:
        subject_text = " ".join(words_of_subject[:cut])
    for _ in range(3):
        question = _tidy(f"{words} {helper} {subject_text} {' '.join(predicate)} {moved}")
        if quoted_run(question, unit.text) < QUOTE_LIMIT:
            return question
        last = next((i for i in range(len(predicate) - 1, 0, -1) if predicate[i].lower() in _PREPOSITIONS), None)
        if last is not None:
            predicate = predicate[:last]
        elif moved:
            moved = ""
        else:
            break
    return None


def _subject_text(subject: list[str], unit: Unit) -> str:
    """The clause's subject as asked: a pronoun replaced by the name the sentence before is about, a sentence's
    capital dropped from a common noun ("Liferafts are ..." -> "liferafts"); '' when a pronoun has no name."""
    text = " ".join(subject)
    if text in _PRONOUNS or text.lower() in ("she", "he", "it", "they", "this"):
        return _subject_name(unit.previous)
    first, _, rest = text.partition(" ")
    if first in _LOWER_STARTS:
        return f"{first.lower()} {rest}".strip()
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
    apposition = re.search(r"\b(?:the|its|their)\s+(?P<role>(?:[\w’'-]+\s){0,3}?[\w’'-]+),\s+(?:currently\s+|now\s+)?$",
                           before)
    if match and any(word.lower().rstrip("s") in _ROLE_WORDS for word in match.group("role").split()):
        verb = "is" if match.group("verb") == "has been" else match.group("verb")
        return _tidy(f"Who {verb} the {match.group('role')}")
    if apposition and apposition.group("role").split()[-1].lower() in _ROLE_WORDS:
        return _tidy(f"Who is the {apposition.group('role')}")
    return None


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
    label = label[0].lower() + label[1:] if not label[:2].isupper() else label
    who = span.kind == NAME and label.split()[-1].lower() in _ROLE_WORDS
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
    means = re.match(r"[\"”’']?\s+means\s+(?P<rest>[^.;]+)", after)
    if means:
        return _tidy(f"Which {span.text.split()[0].lower()} means {means.group('rest')}")
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
    tail = rest.group("rest").split()
    if not tail or tail[0].lower() not in _AGENT_VERBS or len(tail) > 12:
        return None
    moved = " ".join([before[0].lower(), *before[1:]]).rstrip(",") if before else ""
    return _tidy(f"Who {' '.join(tail)} {moved}")


def word_question(unit: Unit, span: Span) -> tuple[str, int] | None:
    """The question whose answer is ``span`` in ``unit`` and how sure the rule is of its wording (0: a shape of its
    own or an inverted auxiliary; 1: a guessed main verb with do-support), or None when no rule fits."""
    for rule in (_label_question, _appositive_question, _role_question, _subject_name_question):
        question = rule(unit, span)
        if question:
            return question, 0
    question = _clause_question(unit, span)
    if question is None:
        return None
    return question, 1 if re.search(r"\b(?:does|do|did)\b", question) else 0


def _singular_header(header: str) -> tuple[str, str]:
    """A column header without its unit in brackets, and the unit: "Mileage to date (km)" -> ("mileage to date",
    "km")."""
    match = re.match(r"^(?P<name>.*?)\s*\((?P<unit>[^)]+)\)\s*$", header)
    name, unit = (match.group("name"), match.group("unit")) if match else (header, "")
    return (name if name[:2].isupper() else name[:1].lower() + name[1:]), unit


def cell_question(entity: str, header: str, span: Span) -> str | None:
    """A question about one table cell: "What builder is listed for Orla?", "How many seats does Skylark have?",
    "In what year was Orla built?"."""
    name, unit = _singular_header(header)
    if not name or not entity:
        return None
    if re.fullmatch(r"[A-Z][\w’'-]*(?:\s+[A-Z][\w’'.-]*)+\.?|[A-Z][a-z]+(?:\s+[a-z]+\.)", header.strip()):
        name = header.strip()  # a column named after a place ("Hollin Gap", "Skarnholt Summit arr."): keep its case
        if span.kind == TIME:
            return _tidy(f"What time is listed under {name} for {entity}")
    year = re.match(r"^year\s+(?P<verb>\w+)$", name, re.IGNORECASE)
    if year and span.kind in (YEAR, NUMBER):
        return _tidy(f"In what year was {entity} {year.group('verb').lower()}")
    in_unit = f", in {unit}" if unit else ""
    if span.kind == NUMBER and not span.unit and name.lower().endswith("s") and not name.lower().endswith("ss"):
        return _tidy(f"How many {name.lower() if not name.isupper() else name} does {entity} have{in_unit}")
    return _tidy(f"What {name} is listed for {entity}{in_unit}")


def comparison_question(entity_a: str, entity_b: str, attribute: str, later: bool) -> str:
    """"Comparing Skylark and Merlin, what is the higher number of seats?" (dates and years: "the later")."""
    word = "later" if later else "higher"
    return _tidy(f"Comparing {entity_a} and {entity_b}, what is the {word} {attribute}")


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


