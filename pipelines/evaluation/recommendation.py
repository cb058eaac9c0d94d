"""The verdict's recommendation, written by rules from the numbers (no language model), in one paragraph.

The approaches are the arena's columns (the base-model floor is never recommended), ranked by key-fact
accuracy. Three cases, decided in this order:

* **thin evidence**: an approach has fewer than :data:`MIN_VERDICT_ANSWERS` (20) answers. Below that a
  question set rarely covers the documents, even when two intervals happen to sit apart. No recommendation:
  the paragraph says how many more questions to run, and the standings so far.
* **clear**: the best approach's 95% interval lies wholly above the runner-up's. It is recommended; slices
  where the runner-up still leads are named.
* **close**: the intervals overlap. Neither is recommended; the paragraph says where each leads (slices with a
  gap of at least :data:`LEAD_MARGIN`, 15 points, both over the slice minimum) and about how many answers per
  approach would tell a gap of this size apart (normal approximation; under :data:`NEGLIGIBLE_GAP`, 5 points,
  it says the gap is too small to matter instead).

Abstention on out-of-corpus questions and the costs (answer time, training time), when given, follow as
plain facts in every case but the thin one.

Example::

    text = recommend({"rag": proportion_interval(30, 40), "finetuned": proportion_interval(12, 40)})
    # 'RAG is the better choice for these documents: it answered 75% [60%, 86%] (n=40) of the questions
    #  right, against 30% [18%, 45%] (n=40) for Fine-tuned; the 95% intervals do not overlap.'
    recommendation(answers=overall_slice, slices=sliced, latency_s={"rag": 1.9, "finetuned": 0.8}).case  # 'clear'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipelines.common.columns import BY_NAME, label
from pipelines.common.correctness import Interval
from pipelines.evaluation.slices import MIN_SLICE_ANSWERS, Measure, Slice

MIN_VERDICT_ANSWERS = 20
LEAD_MARGIN = 0.15
NEGLIGIBLE_GAP = 0.05
MAX_PLACES = 3  # slices named per approach
Z = 1.96

THIN, CLEAR, CLOSE = "thin", "clear", "close"


@dataclass(frozen=True)
class Recommendation:
    """The paragraph and which case wrote it (``thin``, ``clear`` or ``close``); ``best``: the recommended
    approach (clear case only)."""

    case: str
    text: str
    best: str | None = None


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _standing(accuracy: Interval) -> str:
    """An accuracy so far; under the slice minimum its number is noise and is not shown."""
    return str(accuracy) if accuracy.n >= MIN_SLICE_ANSWERS else f"too few (n={accuracy.n})"


def answers_to_separate(a: Interval, b: Interval, z: float = Z) -> int | None:
    """About how many answers per approach make two 95% intervals this far apart stop overlapping (normal
    approximation, shares kept within [5%, 95%]); None when the gap is zero."""
    gap = round(abs(a.mean - b.mean), 9)
    if gap == 0:
        return None
    spread = sum(math.sqrt(p * (1 - p)) for p in (min(max(x.mean, 0.05), 0.95) for x in (a, b)))
    needed = (z * spread / gap) ** 2
    return int(math.ceil(needed / 10) * 10)


def _leads(slices: Iterable[Slice], first: str, second: str, margin: float) -> list[tuple[float, str]]:
    """(gap, phrase) for each slice where ``first`` is ahead of ``second`` by at least the margin, widest first."""
    found = []
    for piece in slices:
        mine, theirs = piece.pipelines.get(first), piece.pipelines.get(second)
        if mine is None or theirs is None or mine.accuracy.too_few or theirs.accuracy.too_few:
            continue
        a, b = mine.accuracy.interval, theirs.accuracy.interval
        if a.mean - b.mean >= margin:
            apart = ", intervals apart" if a.low > b.high else ""
            found.append((a.mean - b.mean, f"{piece.place} ({a.mean:.0%} against {b.mean:.0%}{apart})"))
    return sorted(found, key=lambda lead: -lead[0])[:MAX_PLACES]


def _abstention_sentence(abstention: Mapping[str, Measure], approaches: Sequence[str]) -> str:
    measured = [(p, abstention[p]) for p in approaches if p in abstention and abstention[p].n]
    if not measured:
        return ""
    if any(m.too_few for _p, m in measured):
        n = min(m.n for _p, m in measured)
        return f" Too few questions the documents cannot answer to compare made-up answers (n={n})."
    parts = [f"{label(p)} {m.interval.mean:.0%} (n={m.n})" for p, m in measured]
    return (f" On questions the documents cannot answer, the share that said so: {_join(parts)}; the rest made "
            "something up.")


def _cost_sentence(latency_s: Mapping[str, float], training_s: float | None, approaches: Sequence[str]) -> str:
    parts = [f"{_duration(latency_s[p])} ({label(p)})" for p in approaches if p in latency_s]
    sentence = f" Answers took {_join(parts)} on average" if parts else ""
    if training_s is not None:
        sentence += ("; " if sentence else " ") + f"the adapter took {_duration(training_s)} to train"
    return sentence + "." if sentence else ""


def recommend_case(
    accuracy: Mapping[str, Interval], *, slices: Iterable[Slice] = (), abstention: Mapping[str, Measure] | None = None,
    latency_s: Mapping[str, float] | None = None, training_s: float | None = None,
    minimum: int = MIN_VERDICT_ANSWERS, margin: float = LEAD_MARGIN,
) -> Recommendation:
    """The recommendation from each approach's key-fact accuracy (with optional slices, out-of-corpus abstention
    shares, mean answer time per approach and the adapter's training time); see the module docstring."""
    slices = list(slices)
    approaches = sorted((p for p in accuracy if not (p in BY_NAME and BY_NAME[p].kind == "floor")),
                        key=lambda p: (-accuracy[p].mean, p))
    if len(approaches) < 2:
        only = f"only {label(approaches[0])} has" if approaches else "no approach has"
        return Recommendation(THIN, f"Nothing to compare yet: {only} scored answers. Run the question set with "
                                    "every column, then build the report again.")
    fewest = min(accuracy[p].n for p in approaches)
    standings = "; ".join(f"{label(p)}: {_standing(accuracy[p])}" for p in approaches)
    if fewest < minimum:
        short = [label(p) for p in approaches if accuracy[p].n == fewest]
        who = f"{_join(short)} {'has' if len(short) == 1 else 'have'} only {fewest} scored answers" + (
            " each" if len(short) > 1 else "")
        return Recommendation(THIN, (
            f"Too little evidence to recommend an approach: {who}, and a verdict needs at least {minimum} per "
            f"approach. Run at least {minimum - fewest} more questions with every column, then build the report "
            f"again. So far, without a verdict: {standings}."))
    best, second = approaches[:2]
    a, b = accuracy[best], accuracy[second]
    others = "".join(f", and {accuracy[p]} for {label(p)}" for p in approaches[2:])
    extras = (_abstention_sentence(abstention or {}, approaches)
              + _cost_sentence(latency_s or {}, training_s, approaches))
    if a.low > b.high:
        text = (f"{label(best)} is the better choice for these documents: it answered {a} of the questions right, "
                f"against {b} for {label(second)}{others}; the 95% intervals do not overlap.")
        still = _leads(slices, second, best, margin)
        if still:
            text += f" {label(second)} still does better on {_join([phrase for _gap, phrase in still])}."
        return Recommendation(CLEAR, text + extras, best)
    text = (f"{label(best)} and {label(second)} are close on these documents: {a} against {b} right answers"
            f"{others}; the 95% intervals overlap, so neither is clearly better.")
    ahead, behind = _leads(slices, best, second, margin), _leads(slices, second, best, margin)
    if ahead or behind:
        parts = [f"{label(p)} does better on {_join([phrase for _gap, phrase in leads])}"
                 for p, leads in ((best, ahead), (second, behind)) if leads]
        text += f" {'; '.join(parts)}."
    elif slices:
        text += f" No slice puts either {round(margin * 100)} points ahead."
    gap = round(abs(a.mean - b.mean), 9)  # 24/40 - 22/40 is 5 points, not 4.999...
    needed = answers_to_separate(a, b)
    if gap < NEGLIGIBLE_GAP or needed is None:
        text += f" The gap ({gap * 100:.0f} points) is too small to matter in practice."
    else:
        text += f" About {needed:,} answers per approach would tell a gap of {gap * 100:.0f} points apart."
    return Recommendation(CLOSE, text + extras)


def recommend(accuracy: Mapping[str, Interval], **evidence) -> str:
    """Just the paragraph of :func:`recommend_case`."""
    return recommend_case(accuracy, **evidence).text


def recommendation(answers: Slice, slices: Iterable[Slice] = (), *, latency_s: Mapping[str, float] | None = None,
                   training_s: float | None = None, minimum: int = MIN_VERDICT_ANSWERS) -> Recommendation:
    """The recommendation from :mod:`~pipelines.evaluation.slices`' numbers: ``answers`` is the overall slice
    (:func:`~pipelines.evaluation.slices.overall`), ``slices`` the per-dimension ones. Accuracy below the slice
    minimum counts as its n answers (so thin evidence is still reported as thin)."""
    accuracy = {p: numbers.accuracy.interval or Interval(0.0, 0.0, 1.0, numbers.accuracy.n)
                for p, numbers in answers.pipelines.items()}
    abstention = {p: numbers.abstained for p, numbers in answers.pipelines.items()}
    return recommend_case(accuracy, slices=slices, abstention=abstention, latency_s=latency_s,
                          training_s=training_s, minimum=minimum)
