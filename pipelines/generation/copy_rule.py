"""The RAG reader's copy rule: an answer may use only the words of its passages (and the question).

A 135M model reading a passage often answers with words of its own ("The passage is short and to the
point.") or misreads a number. Restricting each decoding step to the tokens of the prompt's passages
makes it restate what it read; the dev set decides whether the rule is on (``ARENA_READER_COPY``).

* ``words``: any token of the text, each word as tokenised after a space and at the start of the answer,
  end-of-text and a little punctuation;
* ``spans`` (``spans=True``): besides, inside a word (a token that does not start with a space) the next
  token must follow the previous one somewhere in the text, so numbers and names are copied whole:
  "1.4" in the passage cannot come out as "4.1".

Example::

    rule = CopyRule(tokenizer, "The bank stores 1.4 megawatt-hours.", spans=True, eos={2})
    mask = rule.outside(generated_so_far, vocab_size)   # True where a token is forbidden
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import pairwise

import torch
from transformers import PreTrainedTokenizerBase

_WORD = re.compile(r"\w+|[^\w\s]")
_ALWAYS_ALLOWED = (".", ",", " ", "%", "(", ")", "-", ":")


class CopyRule:
    """Which tokens the next step may use, given the answer so far (see the module docstring)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, text: str, spans: bool = False,
                 eos: set[int] | None = None) -> None:
        encode = lambda s: tokenizer(s, add_special_tokens=False).input_ids  # noqa: E731
        self.spans = spans
        self.eos = set(eos or ())
        self.followers: dict[int, set[int]] = defaultdict(set)
        lines = [line for line in text.splitlines() if line.strip()]
        words = set(_WORD.findall(text)) | set(_ALWAYS_ALLOWED)
        allowed: set[int] = set(self.eos)
        for form in [*lines, *words, *(" " + word for word in words)]:  # each word as it starts an answer too
            ids = encode(form)
            allowed.update(ids)
            for before, after in pairwise(ids):
                self.followers[before].add(after)
        self.allowed = allowed
        ordered = sorted(allowed)
        # a token opening a new word: a leading space (byte-level "Ġ" or sentencepiece "▁") or punctuation
        self.word_starts = {i for i, piece in zip(ordered, tokenizer.convert_ids_to_tokens(ordered), strict=True)
                            if piece and (piece[0] in "Ġ▁ " or not piece[0].isalnum())} | self.eos
        self._cache: dict[tuple[int, int | None], torch.Tensor] = {}

    def allowed_after(self, previous: int | None) -> set[int]:
        """Tokens the answer may continue with after ``previous`` (None: the answer's first token)."""
        if not self.spans or previous is None or previous not in self.followers:
            return self.allowed
        return self.followers[previous] | self.word_starts

    def outside(self, generated: list[int], vocab_size: int) -> torch.Tensor:
        """A bool mask over the vocabulary, True for the tokens the next step may not use."""
        previous = generated[-1] if generated and self.spans else None
        key = (vocab_size, previous if previous in self.followers else None)
        if key not in self._cache:
            mask = torch.ones(vocab_size, dtype=torch.bool)
            mask[[i for i in self.allowed_after(key[1]) if i < vocab_size]] = False
            self._cache[key] = mask
        return self._cache[key]
