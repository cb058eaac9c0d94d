"""The Leaderboard tab: who wins the votes, by how much, and the preference data as files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from pipelines.export import export_feedback
from pipelines.feedback import FeedbackStore
from pipelines.leaderboard import store_leaderboard

LABELS = {"rag": "RAG", "finetuned": "Fine-tuned"}


def leaderboard_frame(feedback: FeedbackStore) -> pd.DataFrame:
    rows = store_leaderboard(feedback)
    return pd.DataFrame(
        [
            {
                "pipeline": LABELS.get(r.pipeline, r.pipeline),
                "rating": round(r.rating),
                "95% interval": f"{r.rating_low:.0f} – {r.rating_high:.0f}",
                "win rate": round(r.win_rate, 3),
                "votes": r.votes,
                "wins": r.wins,
                "losses": r.losses,
                "ties": r.ties,
            }
            for r in rows
        ],
        columns=["pipeline", "rating", "95% interval", "win rate", "votes", "wins", "losses", "ties"],
    )


def build_leaderboard_tab(feedback: FeedbackStore) -> None:
    gr.Markdown(
        "Bradley-Terry ratings (Elo scale, mean 1000) from the latest vote of each exchange; a tie or "
        "*both bad* counts half a win for each side. Intervals: 95% bootstrap over votes."
    )
    refresh = gr.Button("↻ Refresh leaderboard", elem_id="refresh-leaderboard")
    table = gr.Dataframe(label="Leaderboard", elem_id="leaderboard", interactive=False)
    plot = gr.BarPlot(x="pipeline", y="rating", title="Rating by pipeline", elem_id="leaderboard-plot")
    with gr.Row():
        export = gr.Button("⬇ Export preference data (DPO + ratings JSONL)", elem_id="export")
        files = gr.File(label="Exported files", file_count="multiple", elem_id="export-files")

    def show() -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = leaderboard_frame(feedback)
        return frame, frame[["pipeline", "rating"]]

    def do_export() -> list[str]:
        result = export_feedback(feedback, Path(tempfile.mkdtemp(prefix="arena-export-")))
        return [str(result.dpo_jsonl), str(result.ratings_jsonl)]

    refresh.click(show, outputs=[table, plot], api_name="leaderboard")
    export.click(do_export, outputs=[files], api_name="export")
