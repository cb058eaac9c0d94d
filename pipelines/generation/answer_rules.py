"""When an answer ends, and which tokens it may not repeat: the stop rule and the loop guard of every column.

Small models asked a short-fact question state the fact in their first sentence and then drift
("... The passage is short and to the point.") or loop ("Orrin Quay Quay Quay ..."). Two remedies,
chosen on the dev set by ``bench/answer_quality.py`` (a repetition *penalty* made every prompt worse
there, so none is used):

* ``max_sentences``: the answer ends after this many sentences (a sentence ends with ``.``, ``!`` or
  ``?`` followed by white space, or a line break after some text; "3.2", "e.g." or a list's "1." is no
  end); 0: no limit;
* ``no_repeat_ngram``: a token that would repeat an n-gram of the answer *so far* is blocked (the
  prompt is not counted, so the RAG column may still copy its passages).

Example::

    rules = AnswerRules(max_sentences=1, no_repeat_ngram=4)
    rules.answer_end("It weighs 380 grams. It is")      # 20: the answer is text[:20]
    rules.banned_tokens([5, 6, 7, 5, 6])                 # {7}: "5 6 7" would repeat
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=\S)[.!?](?=\s)|(?<=\S)[ \t]*\n")
_LIST_MARKER = re.compile(r"(?:\d{1,2}|[a-zA-Z])[.)]")  # "1." or "a)" opening a list is no answer
_ABBREVIATIONS = ("e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "st", "no", "approx", "ca", "inc", "ltd")


@dataclass(frozen=True)
class AnswerRules:
    """How a generated answer may go on (see the module docstring)."""

    max_sentences: int = 0
    no_repeat_ngram: int = 0

    def answer_end(self, text: str) -> int | None:
        """Index where the answer ends (the text to keep is ``text[:end]``), or None while it goes on."""
        if self.max_sentences < 1:
            return None
        sentences = 0
        for match in _SENTENCE_END.finditer(text):
            end = match.start()
            if text[end] in ".!?":
                word = re.search(r"(\S+)$", text[:end])
                if word and word.group(1).lower().lstrip("([\"'") in _ABBREVIATIONS:
                    continue
                end += 1
            start = text.rfind("\n", 0, end) + 1  # the current line: a list marker there is no sentence
            if text[:end].strip() and not _LIST_MARKER.fullmatch(text[start:end].strip()):
                sentences += 1
                if sentences == self.max_sentences:
                    return end
        return None

    def banned_tokens(self, generated: list[int]) -> set[int]:
        """Tokens that would complete an n-gram already in ``generated`` (the answer's own tokens)."""
        n = self.no_repeat_ngram
        if n < 1 or len(generated) < n:
            return set()
        if n == 1:
            return set(generated)
        prefix = tuple(generated[-(n - 1):])
        return {generated[i + n - 1] for i in range(len(generated) - n + 1)
                if tuple(generated[i:i + n - 1]) == prefix}
