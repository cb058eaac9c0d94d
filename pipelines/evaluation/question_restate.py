"""Restate a sentence so the question rules reach its fact: the same statement in a plainer order.

The clause rule of :mod:`pipelines.evaluation.question_wording` inverts the clause around its verb, so it needs the
fact after the verb and a short subject before it. People write many facts in other orders; each restatement here
moves or drops words that carry no fact of the question's, keeping the statement true:

- a fronted phrase that holds the fact goes after the clause: "On 3 March 2024 all nine libraries moved to LUMA."
  -> "All nine libraries moved to LUMA on 3 March 2024." ("On what date did all nine libraries move to LUMA?");
- a role between "by" and a name goes: "led by astronomer Ilse Varga", "led by its executive director, the
  librarian Tobias Wren-Hallam" -> "led by Ilse Varga" ("By whom ...?": the role would name the answer's kind twice),
  and so does a title before a name: "The course leader is Prof. Anneliese Morrow" -> "... is Anneliese Morrow";
- an appositive between the subject and its verb goes: "The first instalment, 40 percent of the value, is paid by
  15 December" -> "The first instalment is paid by 15 December";
- a relative clause ("whose", "that", "which"; not "who") between the subject and its modal or passive verb goes:
  "Every plot whose grapes are delivered must be registered before 31 May" -> "Every plot must be registered
  before 31 May";
- a "which" clause after a name is a sentence about that name: "..., by the Environment Committee, which is chaired
  by Maureen Oyelaran." -> "The Environment Committee is chaired by Maureen Oyelaran.";
- a bare "the <noun>" subject takes the name the sentence before or the section heading gives it: "The committee
  is chaired by ..." after "... by the Time Allocation Committee." -> "The Time Allocation Committee is chaired by".

Each returns the new unit and the fact's span in it, or None when its shape is absent. They are tried only when
the sentence as written gives no question (:func:`pipelines.evaluation.question_wording.word_question`).

Example::

    unit, span = fronted_phrase_last(Unit("On 3 March 2024 all nine libraries moved to LUMA.", "sentence"),
                                     Span("3 March 2024", "date", 3))
    unit.text   # 'All nine libraries moved to LUMA on 3 March 2024.'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace

from pipelines.evaluation.question_facts import NAME, TITLE, Span, Unit, fact_spans, is_noun

Restatement = Callable[[Unit, Span], "tuple[Unit, Span] | None"]

_FRONTING = re.compile(r"^(?P<prep>On|In|By|From|Since|Until|Before|After|At|During)\s+$")
_MODALS = r"(?:must|can|cannot|may|should|shall|will|could|might|need)"
_AUX = r"(?:is|are|was|were|has|have|had|must|can|cannot|may|should|shall|will|could|might)"
_OPENERS = r"(?:If|When|Where|While|Although|Though|Because|Unless|Once|As|Since|Until|Before|After|In|On|At|For)"
_TITLES = TITLE.pattern.removesuffix(r"\s+")  # "Dr.", "Prof", "Councillor" (question_facts.TITLE)


def _moved(unit: Unit, span: Span, text: str, start: int) -> tuple[Unit, Span] | None:
    """The unit with new text and the span at ``start`` in it (None if the span's words are not there)."""
    if text[start:start + len(span.text)] != span.text:
        return None
    return replace(unit, text=text), replace(span, start=start)


def _spliced(unit: Unit, span: Span, head: str, rest_start: int) -> tuple[Unit, Span] | None:
    """``head`` then the unit's text from ``rest_start`` (which holds the span): the words between them dropped."""
    return _moved(unit, span, f"{head}{unit.text[rest_start:]}", span.start - rest_start + len(head))


_NOW = re.compile(r"^(?:Today|Now|Currently|At present|Nowadays|These days),?\s+(?=[A-Za-z])")


def present_adverb_dropped(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"Today the orchestra has 68 playing members." -> "The orchestra has 68 playing members." (the present tense
    says "today"; left in, it would be inverted into "does today the orchestra have"). Applied before the rules."""
    now = _NOW.match(unit.text)
    if not now or span.start < now.end():
        return None
    rest = unit.text[now.end():]
    return _moved(unit, span, rest[:1].upper() + rest[1:], span.start - now.end())


def fronted_phrase_last(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"On <fact>[,] <clause>." -> "<Clause> on <fact>." (the phrase goes before the clause's first comma)."""
    opening = _FRONTING.match(unit.text[: span.start])
    if not opening:
        return None
    after = unit.text[span.start + len(span.text):]
    rest = re.match(r",?\s+(?P<rest>[A-Za-z].*)$", after, re.DOTALL)
    if not rest or re.match(r"(?:of|and|to|or)\b", rest.group("rest")):
        return None  # "In 2019 and 2020 ...", "On 3 March of ...": the phrase goes on past the fact
    clause = rest.group("rest").rstrip()
    end = "." if clause.endswith(".") else ""
    clause = clause.rstrip(".")
    cut = re.search(r"[,;:]\s", clause)
    head, tail = (clause[: cut.start()], clause[cut.start():]) if cut else (clause, "")
    if len(head.split()) < 3:
        return None
    head = head[:1].upper() + head[1:]  # "all nine libraries" opens the sentence now
    phrase = f" {opening.group('prep').lower()} "
    text = f"{head}{phrase}{span.text}{tail}{end}"
    return _moved(unit, span, text, len(head) + len(phrase))


def role_dropped_before_name(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"by astronomer Ilse Varga", "by Dr. Orla Quennell", "by its medical director, Dr. Orla Quennell" -> "by
    Ilse Varga": the name alone after "by", so the question asks "By whom ...?"."""
    if span.kind != NAME:
        return None
    before = unit.text[: span.start]
    role = re.search(rf"\bby\s+(?P<role>(?:(?:its|our|their|the|his|her)\s+[^,;.]{{2,50}},\s+(?:the\s+[a-z]+\s+)?)?"
                     rf"(?:{_TITLES}\s+|(?:the\s+(?:[A-Z][a-z]+\s+)?)?(?:[a-z]+\s+){{1,2}})?)$", before)
    if not role or not role.group("role"):
        return None
    said = role.group("role")
    content = [w for w in said.split() if w.islower() and w not in ("its", "our", "their", "the", "his", "her")]
    if "," not in said and not all(is_noun(w) for w in content):
        return None  # "by far Ilse Varga": not a role
    return _spliced(unit, span, before[: role.start("role")], span.start)


def title_dropped_before_name(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"The course leader is Prof. Anneliese Morrow" -> "The course leader is Anneliese Morrow"."""
    if span.kind != NAME:
        return None
    title = re.search(rf"\b{TITLE.pattern}$", unit.text[: span.start])
    if not title:
        return None
    return _spliced(unit, span, unit.text[: title.start()], span.start)


def appositive_dropped(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"<Subject>, <appositive>, <verb> ... <fact>" -> "<Subject> <verb> ... <fact>"."""
    match = re.match(rf"^(?P<subject>[A-Z][^,;:]{{2,60}}),\s+(?P<appositive>[^,;:]{{3,90}}),\s+(?P<verb>{_AUX}\b)",
                     unit.text)
    if not match or span.start < match.start("verb") or re.search(r"\b(?:that|which|this|these|those)\b",
                                                                  match.group("subject")):
        return None  # "The title of the chair of that board, Head Steward, was ...": "that" reads as a clause
    return _spliced(unit, span, f"{match.group('subject')} ", match.start("verb"))


def relative_clause_dropped(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"Every plot whose grapes are delivered to us must be registered before 31 May" -> "Every plot must be
    registered before 31 May": the relative clause between a subject and its modal (or, with no modal, its passive
    verb: "Complaints that cannot be settled are reviewed by ...") goes."""
    for verb in (rf"{_MODALS}\b", r"(?:is|are|was|were)\s+[a-z]+ed\b"):
        match = re.match(rf"^(?P<subject>(?!{_OPENERS}\b)[A-Z][\w’'-]*(?:\s+[\w’'-]+){{0,4}}?)\s+"
                         rf"(?:whose|that|which)\s+[^,;:]{{3,90}}?\s+(?P<verb>{verb})", unit.text)
        if match:
            break
    if not match or span.start < match.start("verb"):
        return None  # (not after "who": "Passengers who need help should ..." is not said of every passenger)
    return _spliced(unit, span, f"{match.group('subject')} ", match.start("verb"))


def which_clause_as_sentence(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"..., and decisions are made by the Environment Committee, which is chaired by Maureen Oyelaran." -> "The
    Environment Committee is chaired by Maureen Oyelaran.": a "which" clause after a name says something of it."""
    match = re.search(r"(?P<the>\bthe\s+)?(?P<name>[A-Z][\w’'-]*(?:\s+(?:of\s+)?[A-Z][\w’'-]*){0,4}),\s+which\s+"
                      r"(?P<verb>(?:is|are|was|were|has been|have been)\s+[a-z]+ed\b)", unit.text[: span.start])
    if not match:
        return None
    subject = f"The {match.group('name')}" if match.group("the") else match.group("name")
    return _spliced(unit, span, f"{subject} ", match.start("verb"))


def bare_subject_named(unit: Unit, span: Span) -> tuple[Unit, Span] | None:
    """"The committee ..." -> "The Time Allocation Committee ..." when the sentence before (or the heading) names
    one thing whose name ends in that noun; None when it names none or several."""
    match = re.match(r"^The (?P<noun>[a-z]{3,}) ", unit.text)
    if not match or span.start < match.end():
        return None
    names = {s.text for text in (unit.previous, unit.heading) for s in fact_spans(text) if s.kind == NAME
             and len(s.text.split()) >= 2 and s.text.split()[-1].lower() == match.group("noun")
             and " and " not in s.text}
    if len(names) != 1:
        return None
    return _spliced(unit, span, f"The {names.pop()} ", match.end())


RESTATEMENTS: tuple[Restatement, ...] = (fronted_phrase_last, role_dropped_before_name, title_dropped_before_name,
                                         appositive_dropped, relative_clause_dropped, which_clause_as_sentence,
                                         bare_subject_named)


def restatements(unit: Unit, span: Span) -> Iterator[tuple[Unit, Span]]:
    """Every restatement that fits the sentence, one at a time, then the ones that need two (a role after a
    fronted phrase)."""
    for restate in RESTATEMENTS:
        if (restated := restate(unit, span)) is not None:
            yield restated
            for second in RESTATEMENTS:
                if second is not restate and (twice := second(*restated)) is not None:
                    yield twice
