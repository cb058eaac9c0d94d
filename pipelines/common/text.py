"""Plain-text helpers shared by the layers above: the sentence splitter.

One splitter for the fact-pair builder's units (training) and the reader's trimming (generation), so a
"sentence" means the same thing in both; it lives here because generation must not import knowledge.

Example::

    split_sentences("Lumenhollow has 3.2 km of canals. It was founded in 1642.\n- a list line")
    # ['Lumenhollow has 3.2 km of canals.', 'It was founded in 1642.', '- a list line']
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (not a decimal point: "3.2", nor a title's point: "Dr. Orla Quennell") or at a line
# end, so a list line is one too.
_TITLE_POINT = r"(?:(?<=\bDr)|(?<=\bMr)|(?<=\bMs)|(?<=\bMrs)|(?<=\bProf)|(?<=\bSt))\.(?= [A-Z])"
_SENTENCE = re.compile(rf"(?:[^.!?\n]|[.!?](?=\d)|{_TITLE_POINT})+(?:[.!?]|\n|$)")


def split_sentences(text: str) -> list[str]:
    """The sentences and sentence-like lines of a text, in order, stripped (the fact-pair builder's units,
    and the reader's trimming)."""
    return [m.group(0).strip() for m in _SENTENCE.finditer(text) if m.group(0).strip()]
