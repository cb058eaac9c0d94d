"""Does an answer decline ("the documents do not say")? Offline rules on the answer text, hand-checkable.

On a question no document answers, the right answer says so (it *abstains*); an answer that states
something instead is *made up*. On an answerable question an abstention is wrong however polite. The
rules, in order:

1. The answer is cut into clauses: at sentence ends and ``;``/``:``, before a contrast ("but", "however",
   "although", "though", "nevertheless", "that said", "even so", "instead", "whereas", "except") and before a
   guess ("probably", "likely", "maybe", "perhaps", "possibly", "presumably", "I think", "I believe", "I guess",
   "I assume", "my guess", "I suspect"); "Although P, Q" is cut at its comma too.
2. A clause **abstains** when it holds one of :data:`ABSTENTION_PATTERNS`: "I don't know", "I'm not sure",
   "no idea"; "the documents/context/text/passages ... do not say/mention/contain/cover..."; "does not
   say/mention/specify/state..."; "not mentioned/specified/stated/documented/disclosed"; "not (found/given/
   listed...) in the documents"; "no (relevant) information/mention/details/data/record"; "I cannot find",
   "unable to determine"; "cannot be determined"; "not enough/insufficient information"; "nothing in the
   documents"; "outside/beyond (the scope of) the documents"; "is not known"... (curly quotes and "n't"
   forms included). "does not include/cover/list..." abstains only with the documents as its subject: "The
   warranty does not cover water damage." states a fact.
3. A clause that does not abstain is **filler** when it says nothing about the world: nothing left but
   an apology ("Sorry", "Unfortunately"), advice or a pointer ("You could ask HR", "Please check the
   datasheet", "Contact support"), an offer ("Let me know..."), a question back ("Which sensor?"), or a
   remark on what the documents are about ("The documents only cover products").
4. Any other clause **states** something.

The answer abstains when at least one clause abstains and none states anything. So "The documents do not
say who, but the CEO is Maria Lopez." is **made up**: the second clause states an answer the documents do
not back, and a reader cannot tell it from a sourced one (a hedge, "probably Maria Lopez", is the same).
"The documents do not say; you could ask the support team." abstains. A strict rule: a true side remark
("...do not say. The T4 weighs 380 g.") also counts as stating something; the clauses (:func:`clauses`)
show why.

Example::

    abstains("The context does not mention the CEO.")                       # True
    abstains("The documents do not say who, but the CEO is Maria Lopez.")   # False: made up
    out_of_corpus_outcome("I don't know.")                                  # 'abstained'
    answer_correct("It weighs 380 grams.", ["380 grams"], answerable=True)  # True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.common.correctness import key_present

ABSTAINED = "abstained"
MADE_UP = "made-up"
NO_ANSWER = "no answer"

ABSTAINS, FILLER, STATES = "abstains", "filler", "states"

# What an answer may call the material it was given.
_DOC = (r"(?:(?:provided|given|available|retrieved|supplied|above|following|attached|relevant|uploaded) )?"
        r"(?:documents?|docs|context|contexts|texts?|passages?|sources?|excerpts?|information|materials?|data|"
        r"corpus|records?|knowledge base|files?|snippets?|chunks?)")
_NEGATED = r"(?:do|does|did) not (?:(?:appear|seem) to )?(?:explicitly |directly |clearly |specifically )?"
_SAY = r"(?:say|state|mention|specify|disclose)"
_HOLD = (r"(?:contain|include|provide|give|list|cover|have|offer|describe|hold|show|report|refer to|answer|tell|"
         r"reveal|discuss|address|name|identify|indicate)")
_PASSIVE = r"(?:mentioned|specified|stated|documented|disclosed)"

#: The abstention phrases (on lower-cased text, "n't" spelled "not"): see the module docstring.
ABSTENTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in (
    r"\bi (?:do|did) not know\b",
    r"\bi am not (?:sure|certain|aware)\b",
    r"\b(?:i have |i've )?no (?:idea|clue)\b",
    r"\bi have no (?:information|knowledge|data|details|record)\b",
    r"\bi (?:do not|did not|cannot|could not) (?:have|find|see) (?:\w+ ){0,2}(?:information|data|details|knowledge"
    r"|mention|answer)\b",
    rf"\b{_DOC}(?: \w+){{0,4}} {_NEGATED}(?:{_SAY}|{_HOLD})\b",
    rf"\b{_NEGATED}{_SAY}\b",
    rf"\bnot (?:(?:appear|seem) to be )?(?:explicitly |directly |clearly |specifically )?{_PASSIVE}\b",
    rf"\bnot (?:\w+ ){{0,3}}(?:in|from|within|by) (?:the |these |this |any |my |your |our )?{_DOC}\b",
    r"\bno (?:relevant |specific |such |further |additional |explicit |direct |clear |available )?"
    r"(?:information|mention|details?|indication|answer)\b",
    r"\bno (?:data|record|reference|evidence) (?:about|on|of|regarding|in the|available|for)\b",
    r"\b(?:i|we) (?:cannot|could not|was unable to|am unable to|were unable to|am not able to|was not able to"
    r"|did not|do not) (?:find|locate|determine|answer|tell|say|identify|confirm|see|know|verify)\b",
    r"\b(?:unable|not possible|impossible) to (?:find|locate|determine|answer|tell|say|identify|confirm|know)\b",
    r"\b(?:cannot|could not|can not) be (?:determined|found|answered|confirmed|identified|established)\b",
    r"\b(?:insufficient|not enough|not sufficient) (?:information|context|data|details)\b",
    rf"\bnothing (?:\w+ ){{0,2}}(?:in|about|on|from) (?:the |these |this |my |your )?{_DOC}\b",
    rf"\b(?:outside|beyond) (?:the scope of |the reach of )?(?:the |these |this |my |your )?{_DOC}\b",
    rf"\b{_DOC} (?:is|are) (?:silent|not available|unavailable)\b",
    r"\b(?:is|are|was|were) not (?:publicly )?known\b",
))

_CONTRAST = r"but|however|although|though|even though|nevertheless|nonetheless|that said|even so|instead|whereas|except"
_GUESS = r"probably|likely|maybe|perhaps|possibly|presumably|i think|i believe|i guess|i assume|my guess|i suspect"
_CLAUSE_START = re.compile(rf"(?<![\w'])(?=(?:{_CONTRAST}|{_GUESS})\b)")
_CONCESSIVE = re.compile(r"^(?:although|though|even though|even if|while|whilst)\b[^,]*,")
_APOLOGY = re.compile(
    r"^(?:(?:i am |i'm |we are |i'm very |i am very )?(?:sorry|afraid)|apologies|my apologies|unfortunately|"
    r"regrettably|sadly|alas|hello|hi|well|ok|okay|sure|no|honestly|to be honest|in short|so|and|then|also|"
    rf"{_CONTRAST}|{_GUESS})\b[\s,.!-]*")
_ADVICE = re.compile(
    r"^(?:you (?:may|might|could|can|should|would|will|need to|want to)|please|consider|try|contact|ask|check|"
    r"refer|consult|look|see |reach out|visit|for (?:more|further|the latest|details|up-to-date)|if you|"
    r"(?:i|we) (?:can|could|would|will) (?:help|suggest|recommend|be happy|gladly)|(?:i|we) (?:suggest|recommend)|"
    r"it (?:may|might|would|could) (?:help|be (?:worth|best|useful|a good idea))|let me know|feel free|"
    r"(?:i )?hope (?:this|that) helps|(?:is there|can i help with) anything else)\b")
# A remark on what the documents are about says nothing about the question's answer.
_SCOPE = re.compile(rf"^(?:the |these |this |my |your )?{_DOC} (?:(?:only|mainly|mostly|just) "
                    r"(?:cover|discuss|describe|deal with|concern|talk about|contain|mention|focus on)"
                    r"|(?:are|is) (?:only |mainly |mostly )?about|focus(?:es)? (?:only )?on)\b")
_CONTRACTIONS = ((r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bi'm\b", "i am"),
                 (r"\b(\w+)n't\b", r"\1 not"), (r"\bi've\b", "i have"), (r"\bit's\b", "it is"))


@dataclass(frozen=True)
class Clause:
    """One clause of an answer and its role: ``abstains``, ``filler`` or ``states``."""

    text: str
    role: str


def _plain(text: str) -> str:
    """Lower case, straight apostrophes, "n't" spelled out, single spaces: what the patterns are written for."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    for pattern, replacement in _CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    return " ".join(text.split())


def _pieces(answer: str) -> list[str]:
    """The clauses' texts (rule 1 of the module docstring)."""
    pieces: list[str] = []
    for part in re.split(r"(?<!\d)[.!?]+(?!\d)|[;:\n]+", _plain(answer)):
        for piece in _CLAUSE_START.split(part):
            concessive = _CONCESSIVE.match(piece.strip())
            if concessive:
                pieces += [concessive.group(0), piece.strip()[concessive.end():]]
            else:
                pieces.append(piece)
    return [piece.strip(" ,-\u2013\u2014") for piece in pieces if piece.strip(" ,-\u2013\u2014")]


def _role(clause: str, asks: bool) -> str:
    if any(pattern.search(clause) for pattern in ABSTENTION_PATTERNS):
        return ABSTAINS
    rest = clause
    while (stripped := _APOLOGY.sub("", rest, count=1)) != rest:  # "Sorry, but", "Unfortunately, maybe"
        rest = stripped
    if not re.search(r"\w", rest) or asks or _ADVICE.match(rest) or _SCOPE.match(rest):
        return FILLER
    return STATES


def clauses(answer: str) -> list[Clause]:
    """The answer's clauses with their roles (why :func:`abstains` decided as it did)."""
    found = []
    plain = _plain(answer)
    for piece in _pieces(answer):
        position = plain.find(piece)
        asks = position >= 0 and plain[position + len(piece):].lstrip(" ,").startswith("?")
        found.append(Clause(piece, _role(piece, asks)))
    return found


def abstains(answer: str) -> bool:
    """Whether the answer declines: some clause abstains and none states anything (module docstring)."""
    roles = {clause.role for clause in clauses(answer)}
    return ABSTAINS in roles and STATES not in roles


def out_of_corpus_outcome(answer: str) -> str:
    """For a question no document answers: ``abstained`` (right), ``made-up`` (states something instead) or
    ``no answer`` (empty: the column failed, counted in neither)."""
    if not answer.strip():
        return NO_ANSWER
    return ABSTAINED if abstains(answer) else MADE_UP


def answer_correct(answer: str, keys: str | Iterable[str], *, answerable: bool = True) -> bool | None:
    """Right or wrong by the key and the abstention rules: an out-of-corpus question is answered right by
    abstaining; an answerable one by holding a key without abstaining. None: answerable but no key to check
    (and for an empty answer to an out-of-corpus question)."""
    if not answerable:
        outcome = out_of_corpus_outcome(answer)
        return None if outcome == NO_ANSWER else outcome == ABSTAINED
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        return None
    return key_present(answer, keys) and not abstains(answer)
