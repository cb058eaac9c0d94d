"""Where automatic metrics and human judgement agree: the question users care about is
"which metric predicts my raters?".

Pairwise accuracy: over decided votes (one column preferred), how often the answer with
the higher metric score is the preferred one (equal scores count half), with a Wilson 95%
interval. Rank correlation: Spearman and Kendall between the per-answer 1-5 human score
and the metric.

Example::

    rows = metric_agreement(store.scored_votes_for_agreement(), store.latest_rating_scores())
    best = best_predictor(rows)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pipelines.common.correctness import proportion_interval

MIN_PAIRS_FOR_VERDICT = 5


@dataclass(frozen=True)
class MetricAgreement:
    metric: str
    pairs: int
    pairwise_accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    rated_answers: int
    spearman: float | None
    kendall: float | None


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sensible for the small counts of early labeling)."""
    interval = proportion_interval(successes, n, z)
    return interval.low, interval.high


def metric_agreement(scores: list[dict], human_scores: dict[tuple[str, str], int]) -> list[MetricAgreement]:
    """``scores``: rows with exchange_id, choice (latest vote), pipeline, metric, value (status ok only).
    ``human_scores``: (exchange_id, pipeline) -> latest 1-5 rating."""
    from scipy.stats import kendalltau, spearmanr

    by_metric: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    choices: dict[str, str] = {}
    for row in scores:
        by_metric[row["metric"]][row["exchange_id"]][row["pipeline"]] = row["value"]
        choices[row["exchange_id"]] = row["choice"]
    results = []
    for metric, exchanges in sorted(by_metric.items()):
        agreed, pairs = 0.0, 0
        for exchange_id, values in exchanges.items():
            choice = choices[exchange_id]
            if choice not in values or len(values) < 2:
                continue  # a tie, all bad, or only one column scored: nothing to compare
            for pipeline, other in values.items():  # the preferred answer against each other one
                if pipeline != choice:
                    agreed += 1.0 if values[choice] > other else 0.5 if values[choice] == other else 0.0
                    pairs += 1
        low, high = wilson_interval(agreed, pairs) if pairs else (None, None)
        metric_values, human_values = [], []
        for exchange_id, values in exchanges.items():
            for pipeline, value in values.items():
                if (exchange_id, pipeline) in human_scores:
                    metric_values.append(value)
                    human_values.append(human_scores[(exchange_id, pipeline)])
        spearman = kendall = None
        if len(metric_values) >= 3 and len(set(metric_values)) > 1 and len(set(human_values)) > 1:
            spearman = float(spearmanr(metric_values, human_values).statistic)
            kendall = float(kendalltau(metric_values, human_values).statistic)
        results.append(MetricAgreement(metric, pairs, agreed / pairs if pairs else None, low, high,
                                       len(metric_values), spearman, kendall))
    return results


def best_predictor(rows: list[MetricAgreement]) -> str:
    """One sentence for the UI: which metric predicts the raters best, or what is still missing."""
    ready = [r for r in rows if r.pairs >= MIN_PAIRS_FOR_VERDICT and r.pairwise_accuracy is not None]
    if not ready:
        return (f"Not enough evidence yet: each metric needs {MIN_PAIRS_FOR_VERDICT} decided votes "
                "(one answer preferred) on scored exchanges.")
    best = max(ready, key=lambda r: (r.pairwise_accuracy, r.pairs))
    return (f"**{best.metric}** predicts your raters best so far: it picks the preferred answer "
            f"{best.pairwise_accuracy:.0%} of the time over {best.pairs} decided votes "
            f"(95% interval {best.accuracy_low:.0%}–{best.accuracy_high:.0%}).")
