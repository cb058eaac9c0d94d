"""Does the answer hold the fact? Key-fact presence and SQuAD-style token F1, offline and hand-checkable.

The arena is judged on whether a column's answer *states the right fact*, not on whether it sounds
like the reference: a similarity score rewards "The passage is short and to the point." for being
fluent. Two numbers per answer:

* ``key_fact``: 1.0 when any acceptable key (a short answer such as ``"380 grams"``) occurs in the
  answer as a run of whole normalised words (lower case, punctuation and articles dropped, as SQuAD
  normalises), else 0.0. Whole words, so the key ``14`` is not found in ``140``. ragas' own
  ``StringPresence`` is a raw, case-sensitive substring test (``"14" in "140"``), so it does not fit here.
* ``token_f1``: SQuAD's token-overlap F1 between the answer and the key (best over the keys), or the
  reference sentence when a question has no key.

Example::

    key_present("It weighs 380 g.", ["380 grams", "380 g"])   # True
    token_f1("Pim the heron", ["Pim"])                       # 0.5
    accuracy = proportion_interval(successes=12, n=20)       # Interval(0.6, 0.39, 0.78, 20)
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KEY_FACT = "key_fact"
TOKEN_F1 = "token_f1"
CORRECTNESS_METRICS = (KEY_FACT, TOKEN_F1)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | {"\u2013", "\u2014", "\u2018", "\u2019", "\u201c", "\u201d"}


def normalise_answer(text: str) -> str:
    """SQuAD's normalisation (lower case, no punctuation, no articles, single spaces), plus Unicode NFKC
    and thousands separators dropped ("1,200" == "1200") so numbers compare as users write them."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d)[,\u202f](?=\d{3}\b)", "", text)
    text = "".join(" " if char in _PUNCTUATION else char for char in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _as_keys(keys: str | Iterable[str]) -> list[str]:
    found = [keys] if isinstance(keys, str) else list(keys)
    return [key for key in found if normalise_answer(key)]


def key_present(answer: str, keys: str | Iterable[str]) -> bool:
    """Whether any key occurs in the answer as whole normalised words (see the module docstring)."""
    words = f" {normalise_answer(answer)} "
    return any(f" {normalise_answer(key)} " in words for key in _as_keys(keys))


def token_f1(answer: str, keys: str | Iterable[str]) -> float:
    """SQuAD token F1 of the answer against the best-matching key (0.0 when nothing overlaps)."""
    predicted = normalise_answer(answer).split()
    best = 0.0
    for key in _as_keys(keys):
        truth = normalise_answer(key).split()
        common = sum((Counter(predicted) & Counter(truth)).values())
        if common:
            precision, recall = common / len(predicted), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def correctness_scores(answer: str, keys: Sequence[str], reference: str) -> dict[str, float | None]:
    """``key_fact`` (None when the question has no key) and ``token_f1`` (against the keys, else the reference)."""
    return {KEY_FACT: float(key_present(answer, keys)) if keys else None,
            TOKEN_F1: token_f1(answer, keys or [reference])}


@dataclass(frozen=True)
class Interval:
    """A mean (or proportion) with its 95% interval and how many values it is over."""

    mean: float
    low: float
    high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.0%} [{self.low:.0%}, {self.high:.0%}] (n={self.n})"


def proportion_interval(successes: float, n: int, z: float = 1.96) -> Interval:
    """Wilson score interval: sensible for the small counts of an early labeling session or a quick bench."""
    if n == 0:
        return Interval(0.0, 0.0, 1.0, 0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def mean_interval(values: Sequence[float], z: float = 1.96) -> Interval:
    """Mean with a normal-approximation 95% interval (clipped to [0, 1]: every score here lies there)."""
    n = len(values)
    if n == 0:
        return Interval(0.0, 0.0, 1.0, 0)
    mean = sum(values) / n
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = z * spread / math.sqrt(n)
    return Interval(mean, max(0.0, mean - half), min(1.0, mean + half), n)


def accuracy_by_pipeline(scores: Iterable[dict]) -> dict[str, tuple[Interval, Interval]]:
    """Per pipeline: (key-fact accuracy, mean token F1), each with its 95% interval, from stored score rows
    (``pipeline``, ``metric``, ``value``, ``status``); pipelines with no computed key fact are left out."""
    facts: dict[str, list[float]] = {}
    f1s: dict[str, list[float]] = {}
    for row in scores:
        if row.get("status") != "ok" or row.get("value") is None:
            continue
        if row["metric"] == KEY_FACT:
            facts.setdefault(row["pipeline"], []).append(float(row["value"]))
        elif row["metric"] == TOKEN_F1:
            f1s.setdefault(row["pipeline"], []).append(float(row["value"]))
    return {pipeline: (proportion_interval(sum(values), len(values)), mean_interval(f1s.get(pipeline, [])))
            for pipeline, values in sorted(facts.items())}
