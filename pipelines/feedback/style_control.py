"""Ratings with style held equal: does a pipeline win on content, or on the look of its answers?

Raters prefer longer answers, and a RAG answer with ``[1]`` citations differs in style from a fine-tuned answer
without them, so a plain leaderboard can reward style. As FastChat's leaderboard does ("style control",
``fastchat/serve/monitor/elo_analysis.py``), the vote is fitted by a logistic regression (scikit-learn) whose
features are the two pipelines (+1 for answer ``a``, -1 for answer ``b``) and the style differences; a pipeline's
coefficient is its rating with style held equal, and each style feature gets its own coefficient (in log-odds
per standard deviation of its normalised difference; positive = raters prefer more of it).

As FastChat does: each difference is normalised as ``(a - b) / (a + b + 1)`` and scaled by its standard
deviation; L2 regularisation at scikit-learn's default strength (FastChat's ``C=1``), no intercept; a **tie**
(and "both bad") is **split**: counted once as a win of ``a`` and once as a win of ``b`` (FastChat's duplicated
rows), a decided vote twice for its winner. Unlike FastChat the differences are *not* centred: here the same
pipeline is usually answer ``a`` and usually the longer one, so centring would hold style at its average
difference, not at *equal* style. Ratings are on the Elo scale with mean 1000, like
:func:`pipelines.feedback.leaderboard.bradley_terry`, so both tables read alike; ``plain`` is the same fit
without the style features. Intervals: 95% bootstrap over battles (numpy's generator with a seed).

A limit of any such fit: when style decides *every* vote (the longer answer always wins), the votes are
separable and any pipeline gap smaller than the style effect fits them perfectly, so the gap is not identified;
control then shrinks the gap without closing it. With real, noisy votes the fit comes out level when style
alone decides (``tests/test_style_control.py``).

Style features (:func:`style_features`): ``tokens``, whitespace-separated words of the answer (not model
tokens, so any backend compares alike); ``citations``, the ``[n]`` marks that point at the numbered passages the
RAG prompt shows (:mod:`pipelines.generation.prompts` numbers them by rank; ``[1, 3]`` counts two) plus mentions
of a retrieved document's file name; ``declined``, 1.0 when :func:`pipelines.common.abstention.abstains`.
A feature that never differs is left out of the fit and of ``coefficients``.

Example::

    battles = battles_from_exchanges(store.rated_exchanges())
    result = style_controlled_ratings(battles)
    result.ratings, result.coefficients["tokens"], result.winner != result.plain_winner
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pipelines.common.abstention import abstains
from pipelines.common.columns import BOTH_BAD, TIE
from pipelines.feedback.leaderboard import ELO_BASE, ELO_SCALE

STYLE_FEATURES: tuple[str, ...] = ("tokens", "citations", "declined")
WINNERS = ("a", "b", "tie", BOTH_BAD)
_CITATION = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")


def style_features(answer: str, contexts: list | str | None = None) -> dict[str, float]:
    """``tokens``, ``citations`` and ``declined`` of one answer (module docstring). ``contexts``: the answer's
    retrieved passages as the store keeps them (dicts with ``rank`` and ``source``, or their JSON); with them, a
    mark counts only when it names a passage's rank."""
    if isinstance(contexts, str):
        contexts = json.loads(contexts or "[]")
    contexts = contexts or []
    ranks = {int(c["rank"]) for c in contexts if isinstance(c, Mapping) and c.get("rank") is not None}
    marks = [int(n) for group in _CITATION.findall(answer) for n in re.split(r"\s*[,;]\s*", group)]
    citations = sum(1 for n in marks if not ranks or n in ranks)
    lowered = answer.lower()
    sources = {str(c["source"]).lower() for c in contexts if isinstance(c, Mapping) and c.get("source")}
    citations += sum(lowered.count(source) for source in sources)
    return {"tokens": float(len(answer.split())), "citations": float(citations),
            "declined": 1.0 if answer.strip() and abstains(answer) else 0.0}


def battles_from_exchanges(rated: Sequence[Mapping]) -> list[dict]:
    """Battles from voted exchanges (``FeedbackStore.rated_exchanges()`` rows: ``choice`` and ``answers``): the
    chosen answer against each other one (a tie or "both bad" ties every pair), ``a`` and ``b`` in column order
    (so RAG is usually ``a``), failed or empty answers left out, each side with its :func:`style_features`."""
    battles = []
    for exchange in rated:
        answers = [a for a in exchange["answers"] if not a.get("error") and str(a.get("answer") or "").strip()]
        styles = {a["pipeline"]: style_features(a["answer"], a.get("contexts")) for a in answers}
        names = [a["pipeline"] for a in answers]
        choice = exchange["choice"]
        if choice in (TIE, BOTH_BAD):
            pairs = [(a, b, "tie") for i, a in enumerate(names) for b in names[i + 1:]]
        elif choice in names:  # the chosen answer against each other one, sides in column order
            pairs = [(a, b, "a" if a == choice else "b") for i, a in enumerate(names) for b in names[i + 1:]
                     if choice in (a, b)]
        else:
            pairs = []
        battles += [{"a": a, "b": b, "winner": winner, "style_a": styles[a], "style_b": styles[b],
                     "exchange_id": exchange.get("exchange_id")} for a, b, winner in pairs]
    return battles


@dataclass(frozen=True)
class StyleControlled:
    """Style-controlled Elo ratings (mean 1000) with 95% intervals, the style coefficients (log-odds per standard
    deviation, with intervals), the plain ratings of the same fit without style, and how many battles counted."""

    ratings: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    coefficients: dict[str, float]
    plain: dict[str, float]
    battles: int
    coefficient_intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def winner(self) -> str | None:
        """The strongest pipeline with style held equal."""
        return max(self.ratings, key=self.ratings.get) if self.ratings else None

    @property
    def plain_winner(self) -> str | None:
        """The strongest pipeline when style is not controlled."""
        return max(self.plain, key=self.plain.get) if self.plain else None

    @property
    def winner_changed(self) -> bool:
        """Whether controlling for style changes who leads."""
        return self.winner != self.plain_winner


def _checked(battles: Sequence[Mapping]) -> list[Mapping]:
    for index, battle in enumerate(battles, 1):
        if battle.get("winner") not in WINNERS:
            raise ValueError(f"Battle {index}: winner {battle.get('winner')!r} is not one of a, b, tie")
        if not battle.get("a") or not battle.get("b") or battle["a"] == battle["b"]:
            raise ValueError(f"Battle {index} needs two different pipelines as a and b")
        for side in ("style_a", "style_b"):
            missing = [f for f in STYLE_FEATURES if f not in (battle.get(side) or {})]
            if missing:
                raise ValueError(f"Battle {index}: {side} has no {', '.join(missing)}")
    return list(battles)


def _design(battles: list[Mapping], players: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pipeline indicators (n x p), normalised style differences (n x k) and the share won by ``a`` (n)."""
    column = {p: i for i, p in enumerate(players)}
    models = np.zeros((len(battles), len(players)))
    rows = np.arange(len(battles))
    models[rows, [column[b["a"]] for b in battles]] = 1.0
    models[rows, [column[b["b"]] for b in battles]] = -1.0
    a = np.array([[float(b["style_a"][f]) for f in STYLE_FEATURES] for b in battles])
    b = np.array([[float(b["style_b"][f]) for f in STYLE_FEATURES] for b in battles])
    style = (a - b) / (np.abs(a) + np.abs(b) + 1.0)
    won = np.array([{"a": 1.0, "b": 0.0}.get(b["winner"], 0.5) for b in battles])
    return models, style, won


def _fit(models: np.ndarray, style: np.ndarray, won: np.ndarray) -> np.ndarray:
    """Coefficients (pipelines, then style) of FastChat's fit. Each battle is two rows, labelled 1/1 (``a`` won),
    0/0 (``b`` won) or 1/0 (a split tie), each row also mirrored (features and label negated, the same likelihood
    without an intercept) so both classes are always present; C is halved to keep FastChat's regularisation.
    The same objective as FastChat's lbfgs, solved by liblinear: about 8x faster on a few hundred votes, which
    matters for a bootstrap of hundreds of fits."""
    from sklearn.linear_model import LogisticRegression  # here, not at the top: 1 s the app's start does not need

    x = np.hstack([models, style])
    first, second = (won > 0).astype(float), (won >= 1).astype(float)
    features = np.vstack([x, x, -x, -x])
    labels = np.concatenate([first, second, 1 - first, 1 - second])
    return LogisticRegression(fit_intercept=False, C=0.5, solver="liblinear").fit(features, labels).coef_[0]


def _elo(coefficients: np.ndarray, players: list[str]) -> dict[str, float]:
    centred = coefficients - coefficients.mean()
    return {p: float(ELO_BASE + ELO_SCALE * c) for p, c in zip(players, centred, strict=True)}


def _percentiles(samples: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    return {name: (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
            for name, values in samples.items() if values}


def style_controlled_ratings(battles: Sequence[Mapping], *, rounds: int = 200, seed: int = 0) -> StyleControlled:
    """Ratings with style held equal (module docstring). ``battles``: dicts with ``a``, ``b`` (pipelines),
    ``winner`` (``a``, ``b``, ``tie`` or ``both_bad``) and ``style_a``/``style_b`` (:func:`style_features`).
    A ValueError names a malformed battle."""
    battles = _checked(battles)
    if not battles:
        return StyleControlled({}, {}, {}, {}, 0)
    players = sorted({b["a"] for b in battles} | {b["b"] for b in battles})
    models, style, won = _design(battles, players)
    spread = style.std(axis=0)
    kept = [i for i, s in enumerate(spread) if s > 0]
    names = [STYLE_FEATURES[i] for i in kept]
    style = style[:, kept] / spread[kept]

    coefficients = _fit(models, style, won)
    plain = _fit(models, style[:, :0], won)
    rating_samples: dict[str, list[float]] = {p: [] for p in players}
    coefficient_samples: dict[str, list[float]] = {n: [] for n in names}
    rng = np.random.default_rng(seed)
    for _ in range(rounds):
        pick = rng.integers(0, len(battles), len(battles))
        present = np.flatnonzero(np.abs(models[pick]).sum(axis=0))
        fitted = _fit(models[pick][:, present], style[pick], won[pick])
        for player, rating in _elo(fitted[: len(present)], [players[i] for i in present]).items():
            rating_samples[player].append(rating)
        for name, value in zip(names, fitted[len(present):], strict=True):
            coefficient_samples[name].append(float(value))
    return StyleControlled(
        ratings=_elo(coefficients[: len(players)], players),
        intervals=_percentiles(rating_samples),
        coefficients={n: float(c) for n, c in zip(names, coefficients[len(players):], strict=True)},
        plain=_elo(plain, players),
        battles=len(battles),
        coefficient_intervals=_percentiles(coefficient_samples),
    )
