"""Public API: the leaderboard, the feedback export and batch evaluation."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData

from components.admin import require_admin
from components.api_files import file_result
from pipelines.arena.api import whole_number
from pipelines.common.auth import AdminAuth
from pipelines.feedback.export import export_feedback
from pipelines.feedback.leaderboard import LeaderboardFilter, store_leaderboard
from pipelines.feedback.store import FeedbackStore


def feedback_endpoints(feedback: FeedbackStore, auth: AdminAuth, questions: list[str],
                       batch_report: Callable[[int | None], tuple[str, Path]] | None) -> list[Callable]:
    """``questions`` is the question set (for the leaderboard's filter); ``batch_report(limit)`` runs one."""
    question_set = frozenset(questions)

    def pipeline_ratings(by_adapter: bool = False, question_set_only: bool = False, since: str = "",
                         rater: str = "") -> list[dict]:
        """The leaderboard: each pipeline's Bradley-Terry rating from the votes (latest vote per exchange).

        Args:
            by_adapter: one row per adapter version of the fine-tuned column.
            question_set_only: count only questions of the question set.
            since: count only votes from this date on (YYYY-MM-DD); empty for all.
            rater: count only this rater's votes (user name or session id); empty for all.

        Returns:
            rows of pipeline, rating with its 95% interval, votes, wins, losses and ties, best first.
        """
        since, rater = since or "", rater or ""  # null in a JSON payload: no filter
        if not isinstance(since, str) or not isinstance(rater, str):
            raise gr.Error("since (YYYY-MM-DD) and rater must be text.")
        try:
            where = LeaderboardFilter(since=since.strip() or None, rater=rater.strip() or None,
                                      questions=question_set if question_set_only else None, by_adapter=by_adapter)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return [asdict(row) for row in store_leaderboard(feedback, where=where)]

    def export(admin_password: str, include_user_names: bool = False, agreed_only: bool = False) -> list[FileData]:
        """The votes as DPO preference pairs and the 1-5 ratings as JSONL, every rating-queue vote with its
        guidelines version, and the raters' agreement figures.

        Args:
            admin_password: the admin password ("" when none is set).
            include_user_names: fill each row's rater (the signed-in user name, else the session); off: null
                (queue votes: rater-1, rater-2, ...).
            agreed_only: only the items two or more queue raters judged, all alike (the choice they agreed on).

        Returns:
            dpo.jsonl, ratings.jsonl, queue_votes.jsonl and agreement.json.
        """
        require_admin(auth, admin_password)
        result = export_feedback(feedback, Path(tempfile.mkdtemp(prefix="arena-export-")),
                                 include_raters=include_user_names is True, agreed_only=agreed_only is True)
        return [file_result(path) for path in (result.dpo_jsonl, result.ratings_jsonl, result.queue_votes_jsonl,
                                               result.agreement_json) if path is not None]

    def evaluate(admin_password: str, question_limit: int = 3) -> tuple[str, FileData]:
        """Ask every pipeline the question set's questions, score every answer, and return the report.

        Args:
            admin_password: the admin password ("" when none is set).
            question_limit: how many questions (0: all of them).

        Returns:
            the summary (Markdown, ending with the verdict's recommendation) and a zip with scores.csv,
            summary.md, summary.html, dataset.jsonl and verdict.html (which approach to use, and why).
        """
        require_admin(auth, admin_password)
        if batch_report is None:
            raise gr.Error("Batch evaluation is unavailable in this app.")
        try:
            summary, archive = batch_report(whole_number("question_limit", question_limit) or None)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return summary, file_result(archive)

    return [pipeline_ratings, export, evaluate]
