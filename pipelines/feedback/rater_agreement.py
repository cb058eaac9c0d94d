"""Do raters agree? Agreement between the raters of a rating queue, per queue and per rater.

A labeling lead's first question: when several raters judge the same answer pair, do they pick the same? For
the items with two or more votes this module gives

* ``pairwise``: the share of agreeing rater pairs (an item with votes A, A, B has three pairs, one agreeing);
* ``alpha``: Krippendorff's alpha for nominal data (the maintained ``krippendorff`` package), chance-corrected,
  any number of raters, missing votes allowed; 1 = perfect, 0 = chance, below 0 = systematic disagreement. Its
  95% interval comes from a bootstrap over items (items resampled with replacement, numpy's generator with a
  seed, so a report is repeatable). Alpha is undefined (``None``) when every vote is the same choice: nothing
  varies, so agreement cannot be told from chance;
* per rater, ``with_majority``: the share of their votes that match the majority of the *other* raters of the
  item, over the items where the others have a strict majority (more than half of them chose one answer). A
  careless rater, voting at random, scores lowest;
* per rater, ``gold_accuracy`` on the items an admin marked with the right choice.

Every choice is a plain label (``rag``, ``finetuned``, ``tie``, ``both_bad``...): "tie" and "both bad" are choices
like any other, so two raters who both said "tie" agree.

Example::

    votes = [{"exchange_id": "e1", "rater": "ann", "choice": "rag"},
             {"exchange_id": "e1", "rater": "bob", "choice": "rag"},
             {"exchange_id": "e2", "rater": "ann", "choice": "finetuned"},
             {"exchange_id": "e2", "rater": "bob", "choice": "rag"}]
    report = rater_agreement(votes)          # report.items == 2, report.pairwise == 0.5
    agreed_items(votes)                      # {"e1": "rag"}: the DPO "agreed only" filter
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import krippendorff
import numpy as np


@dataclass(frozen=True)
class RaterScore:
    """One rater: ``votes`` given; ``with_majority`` over ``majority_n`` items where the other raters had a
    majority; ``gold_accuracy`` over ``gold_n`` gold items (``None`` where the count is 0)."""

    rater: str
    votes: int
    with_majority: float | None
    majority_n: int
    gold_accuracy: float | None
    gold_n: int


@dataclass(frozen=True)
class AgreementReport:
    """Agreement over the ``items`` with two or more votes; ``None`` where there is nothing to measure."""

    items: int
    pairwise: float | None
    alpha: float | None
    alpha_low: float | None
    alpha_high: float | None
    raters: list[RaterScore]


def _by_item(votes: Sequence[Mapping]) -> dict[str, dict[str, str]]:
    """exchange_id -> {rater: choice}; a clear error for a malformed vote or a rater voting twice on one item."""
    items: dict[str, dict[str, str]] = {}
    for index, vote in enumerate(votes):
        missing = [key for key in ("exchange_id", "rater", "choice") if not vote.get(key)]
        if missing:
            raise ValueError(f"Vote {index + 1} has no {', '.join(missing)}: each vote needs exchange_id, rater "
                             "and choice")
        raters = items.setdefault(str(vote["exchange_id"]), {})
        rater = str(vote["rater"])
        if rater in raters:
            raise ValueError(f"Rater {rater!r} voted twice on item {vote['exchange_id']!r}: give one vote per "
                             "rater and item (a queue's votes, not the arena's vote history)")
        raters[rater] = str(vote["choice"])
    return items


def _alpha(counts: np.ndarray) -> float | None:
    """Nominal alpha of an items x choices count matrix; None where it is undefined (one choice only)."""
    if counts.shape[1] < 2 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    value = float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))
    return None if np.isnan(value) else value


def _alpha_interval(counts: np.ndarray, rounds: int, seed: int) -> tuple[float | None, float | None]:
    """2.5th and 97.5th percentiles of alpha over bootstrap resamples of the items (undefined resamples skipped)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(rounds):
        value = _alpha(counts[rng.integers(0, len(counts), len(counts))])
        if value is not None:
            samples.append(value)
    if not samples:
        return None, None
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def _pairwise(items: list[dict[str, str]]) -> float | None:
    agreeing = pairs = 0
    for raters in items:
        n = len(raters)
        pairs += n * (n - 1) // 2
        agreeing += sum(k * (k - 1) // 2 for k in Counter(raters.values()).values())
    return agreeing / pairs if pairs else None


def _majority(choices: list[str]) -> str | None:
    """The choice more than half of ``choices`` made, if any."""
    if not choices:
        return None
    choice, count = Counter(choices).most_common(1)[0]
    return choice if count * 2 > len(choices) else None


def _rater_scores(items: dict[str, dict[str, str]], gold: Mapping[str, str]) -> list[RaterScore]:
    tallies: dict[str, list[int]] = {}  # rater -> [votes, majority_n, with_majority, gold_n, gold_right]
    for exchange_id, raters in items.items():
        for rater, choice in raters.items():
            tally = tallies.setdefault(rater, [0, 0, 0, 0, 0])
            tally[0] += 1
            majority = _majority([c for other, c in raters.items() if other != rater])
            if majority is not None:
                tally[1] += 1
                tally[2] += choice == majority
            if gold.get(exchange_id):
                tally[3] += 1
                tally[4] += choice == gold[exchange_id]
    return [RaterScore(rater, votes, right / n if n else None, n, gold_right / gold_n if gold_n else None, gold_n)
            for rater, (votes, n, right, gold_n, gold_right) in sorted(tallies.items())]


def rater_agreement(votes: Sequence[Mapping], gold: Mapping[str, str] | None = None, *, rounds: int = 1000,
                    seed: int = 0) -> AgreementReport:
    """Agreement of ``votes`` (dicts with ``exchange_id``, ``rater``, ``choice``; one per rater and item).

    ``gold`` maps an exchange id to its right choice; without it, the votes' own ``gold`` fields are used (as
    ``RatingQueues.queue_votes()`` gives them). ``rounds`` bootstrap resamples give alpha's interval. A
    ValueError names a vote without its fields or a rater who voted twice on one item.
    """
    items = _by_item(votes)
    if gold is None:
        gold = {str(v["exchange_id"]): str(v["gold"]) for v in votes if v.get("gold")}
    shared = [raters for raters in items.values() if len(raters) >= 2]
    scores = _rater_scores(items, gold)
    if not shared:
        return AgreementReport(0, None, None, None, None, scores)
    domain = sorted({choice for raters in shared for choice in raters.values()})
    counts = np.array([[Counter(raters.values())[choice] for choice in domain] for raters in shared])
    alpha = _alpha(counts)
    low, high = _alpha_interval(counts, rounds, seed) if alpha is not None else (None, None)
    return AgreementReport(len(shared), _pairwise(shared), alpha, low, high, scores)


def agreed_items(votes: Sequence[Mapping], *, min_votes: int = 2) -> dict[str, str]:
    """exchange_id -> the choice every rater of the item made, for items with at least ``min_votes`` votes, all
    the same (what a DPO set keeps when it keeps only the pairs raters agreed on)."""
    if min_votes < 1:
        raise ValueError("min_votes must be 1 or more")
    return {exchange_id: next(iter(raters.values())) for exchange_id, raters in _by_item(votes).items()
            if len(raters) >= min_votes and len(set(raters.values())) == 1}
