"""The Evaluation tab: RAGAS scores of every rated exchange beside the human vote."""

from __future__ import annotations

import gradio as gr
import pandas as pd

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


def build_evaluation_tab(feedback: FeedbackStore) -> None:
    gr.Markdown(
        "Each voted exchange is scored with **RAGAS** in the background (offline metrics: non-LLM context "
        "precision/recall against the reference passages, ROUGE, and semantic similarity to the reference "
        "answer). Questions outside the question set get *n/a* with the reason."
    )
    refresh = gr.Button("↻ Refresh scores", elem_id="refresh-scores")
    summary = gr.Dataframe(label="Mean per pipeline", elem_id="score-summary", interactive=False)
    table = gr.Dataframe(label="Scores per rated exchange", elem_id="scores", interactive=False, wrap=True)
    refresh.click(lambda: scores_frames(feedback), outputs=[table, summary], api_name="scores")
