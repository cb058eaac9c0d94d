"""The Evaluation tab: RAGAS scores of every rated exchange beside the human vote."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from pipelines.agreement import best_predictor, metric_agreement
from pipelines.feedback import FeedbackStore

COLUMNS = ["question", "vote", "pipeline", "metric", "score", "status", "reason"]


def scores_frames(feedback: FeedbackStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-exchange rows, and the mean of each metric per pipeline (n/a and failures left out)."""
    rows = feedback.scored_votes()
    table = pd.DataFrame(rows)
    if table.empty or table["metric"].isna().all():
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=["pipeline", "metric", "mean", "answers"])
    table = table.dropna(subset=["metric"]).rename(columns={"value": "score"})
    table["score"] = table["score"].round(3)
    scored = table[table["status"] == "ok"]
    summary = (
        scored.groupby(["pipeline", "metric"])["score"].agg(["mean", "count"]).round(3).reset_index()
        .rename(columns={"count": "answers"})
    )
    return table[COLUMNS], summary


def agreement_view(feedback: FeedbackStore) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Verdict sentence, per-metric agreement table, and (metric, human score) points for the scatter plot."""
    scores = feedback.scores_with_votes()
    human = feedback.latest_rating_scores()
    rows = metric_agreement(scores, human)
    table = pd.DataFrame(
        [{"metric": r.metric, "decided votes": r.pairs,
          "pairwise accuracy": None if r.pairwise_accuracy is None else round(r.pairwise_accuracy, 3),
          "95% interval": "" if r.accuracy_low is None else f"{r.accuracy_low:.2f} – {r.accuracy_high:.2f}",
          "rated answers": r.rated_answers,
          "Spearman": None if r.spearman is None else round(r.spearman, 3),
          "Kendall": None if r.kendall is None else round(r.kendall, 3)} for r in rows],
        columns=["metric", "decided votes", "pairwise accuracy", "95% interval", "rated answers", "Spearman",
                 "Kendall"],
    )
    points = pd.DataFrame(
        [{"metric": row["metric"], "metric value": row["value"], "human score": human[key]}
         for row in scores if (key := (row["exchange_id"], row["pipeline"])) in human],
        columns=["metric", "metric value", "human score"],
    )
    return best_predictor(rows), table, points


def build_evaluation_tab(feedback: FeedbackStore) -> None:
    gr.Markdown(
        "Each voted exchange is scored with **RAGAS** in the background (offline metrics: non-LLM context "
        "precision/recall against the reference passages, ROUGE, and semantic similarity to the reference "
        "answer). Questions outside the question set get *n/a* with the reason."
    )
    refresh = gr.Button("↻ Refresh scores", elem_id="refresh-scores")
    summary = gr.Dataframe(label="Mean per pipeline", elem_id="score-summary", interactive=False)
    table = gr.Dataframe(label="Scores per rated exchange", elem_id="scores", interactive=False, wrap=True)
    gr.Markdown("### Agreement with your raters")
    verdict = gr.Markdown(elem_id="agreement-verdict")
    agreement = gr.Dataframe(label="Per metric: does the higher score pick the answer humans preferred? Does it "
                             "rank answers like the 1-5 ratings?", elem_id="agreement", interactive=False)
    scatter = gr.ScatterPlot(x="metric value", y="human score", color="metric", elem_id="agreement-plot",
                             title="Metric value vs human 1-5 score")

    def refresh_all() -> tuple:
        return (*scores_frames(feedback), *agreement_view(feedback))

    refresh.click(refresh_all, outputs=[table, summary, verdict, agreement, scatter], api_name="scores")
