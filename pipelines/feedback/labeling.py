"""What a labelling lead reads beside the leaderboard: do the raters agree, and does the winner hold once the
answers' style is held equal?

Agreement comes from the votes given through rating queues (only there do several raters judge the same
answers; :mod:`pipelines.feedback.rater_agreement`); the style-controlled ratings from every rater's latest vote
on each exchange, the same votes the Bradley-Terry leaderboard counts (:mod:`pipelines.feedback.style_control`).
Both can be narrowed to one queue, to a set of exchanges (a batch run's, for its verdict) and by the
leaderboard's filter.

Example::

    report = labeling_report(store)
    report.agreement.alpha, report.agreement.items      # Krippendorff's alpha over items with 2+ votes
    report.style.ratings["rag"], report.style.coefficients.get("tokens"), report.style.winner_changed
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pipelines.feedback.leaderboard import LeaderboardFilter
from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.rater_agreement import AgreementReport, rater_agreement
from pipelines.feedback.store import FeedbackStore
from pipelines.feedback.style_control import StyleControlled, battles_from_exchanges, style_controlled_ratings


@dataclass(frozen=True)
class LabelingReport:
    agreement: AgreementReport
    style: StyleControlled
    queue_votes: int   # votes given through queues that the agreement read

    @property
    def agreement_shown(self) -> bool:
        """Agreement has something to say once one item has two votes."""
        return self.agreement.items > 0


def labeling_report(store: FeedbackStore, *, queue_id: str | None = None,
                    exchange_ids: Collection[str] | None = None, where: LeaderboardFilter | None = None,
                    agreement_rounds: int = 1000, style_rounds: int = 200) -> LabelingReport:
    """Agreement over the queue votes (one queue, or all) and style-controlled ratings over the votes the
    leaderboard counts, both limited to ``exchange_ids`` when given; ``where`` filters the style votes as it
    filters the leaderboard."""
    wanted = None if exchange_ids is None else frozenset(exchange_ids)
    votes = [vote for vote in RatingQueues(store).queue_votes(queue_id)
             if wanted is None or vote["exchange_id"] in wanted]
    rated = [exchange for exchange in store.rated_exchanges(per_rater=True)
             if (wanted is None or exchange["exchange_id"] in wanted) and (where is None or where.keeps(exchange))]
    return LabelingReport(agreement=rater_agreement(votes, rounds=agreement_rounds),
                          style=style_controlled_ratings(battles_from_exchanges(rated), rounds=style_rounds),
                          queue_votes=len(votes))
