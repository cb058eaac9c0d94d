"""The Evaluation tab: RAGAS scores of every rated exchange beside the human vote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pandas as pd

from components.admin import require_admin
from pipelines.common import columns as arena_columns
from pipelines.common.auth import AdminAuth
from pipelines.common.correctness import accuracy_by_pipeline
from pipelines.evaluation.agreement import best_predictor, metric_agreement
from pipelines.feedback.store import FeedbackStore

COLUMNS = ["question", "vote", "pipeline", "metric", "score", "status", "reason", "scorer"]


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


def accuracy_frame(feedback: FeedbackStore) -> pd.DataFrame:
    """Key-fact accuracy and token F1 per pipeline over every scored answer, with 95% intervals."""
    rows = [{"pipeline": pipeline, "accuracy (key fact)": round(fact.mean, 3),
             "95% interval": f"{fact.low:.0%} – {fact.high:.0%}", "token F1": round(f1.mean, 3),
             "F1 95% interval": f"{f1.low:.2f} – {f1.high:.2f}", "answers": fact.n}
            for pipeline, (fact, f1) in accuracy_by_pipeline(feedback.scores()).items()]
    return pd.DataFrame(rows, columns=["pipeline", "accuracy (key fact)", "95% interval", "token F1",
                                       "F1 95% interval", "answers"])


def distribution_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Every computed score as one point per answer (metric on x, score on y, pipeline as colour)."""
    scored = table[table["status"] == "ok"] if not table.empty else table
    return pd.DataFrame({"metric": scored.get("metric", []), "score": scored.get("score", []),
                         "pipeline": scored.get("pipeline", [])})


def build_evaluation_tab(feedback: FeedbackStore, rescore: Callable[[], int] | None = None, judge_status: str = "",
                         batch_report: Callable[[int | None], tuple[str, Path]] | None = None,
                         auth: AdminAuth | None = None) -> None:
    """``rescore`` queues every voted exchange for scoring again (after a new judge or metric version);
    ``batch_report(limit)`` runs every pipeline over the question set and returns (summary, zip)."""
    auth = auth or AdminAuth(None)
    gr.Markdown(
        "Each voted exchange is scored in the background. First, **correctness**: does the answer hold the "
        "question's key fact (`key_fact`), and its token F1 against the key (`token_f1`); these say whether an "
        "answer is right. Then **RAGAS** (offline metrics: non-LLM context "
        "precision/recall against the reference passages, ROUGE, BLEU, string similarity and semantic "
        "similarity to the reference answer). Questions outside the question set get *n/a* with the reason; "
        "each score names the scorer (ragas version and judge) that computed it; a judge's failure is "
        "recorded with its reason, never as a zero."
    )
    gr.Markdown(judge_status, elem_id="judge-status")
    with gr.Row():
        refresh = gr.Button("↻ Refresh scores", elem_id="refresh-scores")
        rescore_button = gr.Button("⟳ Re-score every voted exchange", elem_id="rescore",
                                   interactive=rescore is not None)
        rescore_password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled,
                                      elem_id="rescore-password")
    rescore_status = gr.Markdown(elem_id="rescore-status")
    accuracy = gr.Dataframe(label="Right answers per pipeline: the question's key fact in the answer (95% "
                            "interval), and token F1 against the key", elem_id="accuracy", interactive=False)
    summary = gr.Dataframe(label="Mean per pipeline", elem_id="score-summary", interactive=False)
    with gr.Row():
        means_plot = gr.BarPlot(x="metric · pipeline", y="mean", color="pipeline", title="Mean per pipeline",
                                elem_id="score-means-plot")
        spread_plot = gr.ScatterPlot(x="metric", y="score", color="pipeline", title="Every answer's score",
                                     elem_id="score-distribution-plot")
    table = gr.Dataframe(label="Scores per rated exchange", elem_id="scores", interactive=False, wrap=True)
    gr.Markdown("### Agreement with your raters")
    verdict = gr.Markdown(elem_id="agreement-verdict")
    agreement = gr.Dataframe(label="Per metric: does the higher score pick the answer humans preferred? Does it "
                             "rank answers like the 1-5 ratings?", elem_id="agreement", interactive=False)
    scatter = gr.ScatterPlot(x="metric value", y="human score", color="metric", elem_id="agreement-plot",
                             title="Metric value vs human 1-5 score")

    def refresh_all() -> tuple:
        per_exchange, means = scores_frames(feedback)
        # One bar per (metric, pipeline): bars sharing an x value would stack, and means do not add up.
        bars = means.assign(**{"metric · pipeline": means["metric"] + " · " + means["pipeline"]})
        plots = (gr.BarPlot(value=bars, x_label_angle=-40) if not means.empty else gr.BarPlot(),
                 gr.ScatterPlot(value=distribution_frame(per_exchange)) if not means.empty else gr.ScatterPlot())
        return (accuracy_frame(feedback), per_exchange, means, *plots, *agreement_view(feedback))

    def do_rescore(given: str) -> str:
        require_admin(auth, given)  # rewrites every stored score and keeps the scorer busy: an admin action
        queued = rescore()
        return f"⏳ {queued} voted exchanges queued for scoring; refresh in a while."

    with gr.Accordion("Batch evaluation: every pipeline over the question set", open=False, elem_id="batch-panel"):
        every_column = ", ".join(c.label for c in arena_columns.COLUMNS)
        gr.Markdown(f"Asks every question of the set in every column ({every_column}), scores every answer, "
                    "and gives the report: `scores.csv`, `summary.md` / `summary.html` (table with bars) and "
                    "`dataset.jsonl` (the ragas samples). Same as `python -m pipelines.evaluation`.")
        with gr.Row():
            limit = gr.Number(label="Questions (0 = all)", value=3, precision=0, minimum=0, elem_id="batch-limit")
            password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled,
                                  elem_id="batch-password")
            run_batch = gr.Button("▶ Run batch evaluation", elem_id="run-batch", interactive=batch_report is not None)
        batch_summary = gr.Markdown(elem_id="batch-summary")
        batch_file = gr.File(label="Report (zip)", elem_id="batch-report")

    def do_batch(count: float | None, given: str, progress=gr.Progress(track_tqdm=True)) -> tuple[str, str]:  # noqa: B008
        require_admin(auth, given)
        try:
            summary_text, archive = batch_report(int(count) if count else None)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        return summary_text.replace("# Batch evaluation", "### Batch evaluation", 1), str(archive)

    run_batch.click(do_batch, inputs=[limit, password], outputs=[batch_summary, batch_file], api_name=False,
                    concurrency_limit=1, concurrency_id="generation")
    refresh.click(refresh_all, outputs=[accuracy, table, summary, means_plot, spread_plot, verdict, agreement, scatter],
                  api_name=False)
    rescore_button.click(do_rescore, inputs=[rescore_password], outputs=[rescore_status], api_name=False)
