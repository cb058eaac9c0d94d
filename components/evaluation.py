"""The Evaluation tab: RAGAS scores of every rated exchange beside the human vote, batch runs, and the verdict.

The verdict panel shows which approach to use for these documents (:mod:`pipelines.evaluation.verdict`): the
rule-written recommendation, its HTML page, and a table and a bar plot of the slices for a chosen dimension
(:mod:`components.slices_view`). It reads the verdict through the ``verdict_page`` callable the runtime provides, so
this file holds no model or store code. The "Question types" panel lists every question of the set with its type
and where that came from, and saves the types the user edits (an admin action;
:mod:`pipelines.evaluation.question_tags`) through the runtime's ``question_types`` and ``save_question_types``.

Example::

    with gr.Blocks():
        build_evaluation_tab(runtime.feedback, runtime.rescore, runtime.judge_status(), runtime.batch_report,
                             runtime.auth, verdict_page=runtime.verdict_page, question_types=runtime.question_types,
                             save_question_types=runtime.save_question_types)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import gradio as gr
import pandas as pd

from components.admin import require_admin
from components.slices_view import chosen_slice_views, slice_components
from pipelines.common import columns as arena_columns
from pipelines.common.auth import AdminAuth
from pipelines.common.correctness import accuracy_by_pipeline
from pipelines.evaluation.agreement import best_predictor, metric_agreement
from pipelines.evaluation.question_tags import EDITABLE_TYPES, TypeRow
from pipelines.evaluation.slices import BY_TYPE, DIMENSIONS, Slice
from pipelines.evaluation.verdict import VerdictPage, summary_markdown
from pipelines.feedback.store import FeedbackStore

COLUMNS = ["question", "vote", "pipeline", "metric", "score", "status", "reason", "scorer"]
TYPE_COLUMNS = ["id", "question", "type", "from"]  # only "type" is editable


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


def verdict_outputs(page: VerdictPage, dimension: str) -> tuple[str, str, dict[str, list[Slice]], pd.DataFrame,
                                                                 gr.BarPlot]:
    """What the verdict panel shows: the recommendation (Markdown), the page's path, every dimension's slices
    (kept in the session, so the dimension dropdown redraws without rebuilding the verdict), and the chosen
    dimension's table and accuracy plot."""
    slices = {name: list(pieces) for name, pieces in page.verdict.slices.items()}
    return summary_markdown(page.verdict), str(page.html), slices, *chosen_slice_views(slices, dimension)


def type_frame(rows: Iterable[TypeRow]) -> pd.DataFrame:
    """The question types as the table shows them: id, question, type, from (set, rules: why, edited)."""
    return pd.DataFrame([[row.id, row.question, row.type, row.origin] for row in rows], columns=TYPE_COLUMNS)


def table_rows(table: pd.DataFrame | None) -> list[list[object]]:
    """The edited table's rows as lists of cells (an empty cell as ""), in the table's column order."""
    if table is None or table.empty:
        return []
    return table.astype(object).where(table.notna(), "").values.tolist()


def build_evaluation_tab(feedback: FeedbackStore, rescore: Callable[[], int] | None = None, judge_status: str = "",
                         batch_report: Callable[[int | None], tuple[str, Path]] | None = None,
                         auth: AdminAuth | None = None,
                         verdict_page: Callable[[bool], VerdictPage] | None = None,
                         question_types: Callable[[], Sequence[TypeRow]] | None = None,
                         save_question_types: Callable[[Sequence[Sequence[object]]], int] | None = None) -> None:
    """``rescore`` queues every voted exchange for scoring again (after a new judge or metric version);
    ``batch_report(limit)`` runs every pipeline over the question set and returns (summary, zip);
    ``verdict_page(fresh)`` the newest verdict (a batch run's), or with ``fresh`` one built from the stored answers;
    ``question_types()`` the question set's rows (id, question, type, from); ``save_question_types(rows)`` stores
    the table's edited types and returns how many questions of the set have one (a bad row: a ValueError)."""
    auth = auth or AdminAuth(None)
    gr.Markdown(
        "Each voted exchange is scored in the background. First, **correctness**: does the answer hold the "
        "question's key fact (`key_fact`), and its token F1 against the key (`token_f1`); these say whether an "
        "answer is right. On an out-of-corpus question (no document answers it) `key_fact` is 1 when the answer "
        "says the documents do not say and 0 when it states something instead. Then **RAGAS** (offline "
        "metrics: non-LLM context precision/recall against the reference passages, ROUGE, BLEU, string "
        "similarity and semantic similarity to the reference answer). Questions outside the question set get "
        "*n/a* with the reason; each score names the scorer (ragas version and judge) that computed it; a "
        "judge's failure is recorded with its reason, never as a zero."
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
                    "and gives the report: `scores.csv`, `summary.md` / `summary.html` (table with bars), "
                    "`dataset.jsonl` (the ragas samples) and `verdict.html` (which approach to use, and why; shown "
                    "below too). Same as `python -m pipelines.evaluation`.")
        with gr.Row():
            limit = gr.Number(label="Questions (0 = all)", value=3, precision=0, minimum=0, elem_id="batch-limit")
            password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled,
                                  elem_id="batch-password")
            run_batch = gr.Button("▶ Run batch evaluation", elem_id="run-batch", interactive=batch_report is not None)
        batch_summary = gr.Markdown(elem_id="batch-summary")
        batch_file = gr.File(label="Report (zip)", elem_id="batch-report")

    with gr.Accordion("The verdict: which approach for these documents", open=True, elem_id="verdict-panel"):
        gr.Markdown("Accuracy per approach with 95% intervals, where each one wins (by document, question type, "
                    "retrieval hit or miss, adapter), made-up answers on questions the documents cannot answer, "
                    "the knowledge update, the costs, and a recommendation written by rules. A batch run above "
                    "builds it from its own answers; the button builds it now from every stored answer to the "
                    "question set (no generation). Same as `python -m pipelines.evaluation verdict`.")
        with gr.Row():
            build_verdict = gr.Button("📄 Verdict from the stored answers", elem_id="build-verdict",
                                      interactive=verdict_page is not None)
            dimension = gr.Dropdown(choices=list(DIMENSIONS), value=BY_TYPE, label="Slices by",
                                    elem_id="verdict-dimension")
        verdict_summary = gr.Markdown(elem_id="verdict-summary")
        verdict_file = gr.File(label="Verdict page (HTML, one file)", elem_id="verdict-page")
        verdict_slices = gr.State({})
        slices, slices_plot = slice_components("verdict-slices", "verdict-slices-plot")

    with gr.Accordion("Question types", open=False, elem_id="question-types-panel"):
        gr.Markdown("A question's type sets the slice it lands in (the verdict's and the Leaderboard's *where each "
                    "approach wins*). The set may give it; where it does not, rules tag it (*from* says which, and "
                    f"why). Change a **type** cell to one of {', '.join(f'`{t}`' for t in EDITABLE_TYPES)} and save: "
                    "the edit is kept in `question-types.json` in the data dir and wins over the set and the rules; "
                    "a type set back to the set's or the rules' drops the edit. `out-of-corpus` (no document answers "
                    'it) changes what counts as a right answer, so only the set file says it: `"answerable": false`.')
        types_table = gr.Dataframe(headers=TYPE_COLUMNS, datatype="str", interactive=True, static_columns=[0, 1, 3],
                                   label="The question set's types (edit the type column)", wrap=True,
                                   elem_id="question-types")
        with gr.Row():
            reload_types = gr.Button("↻ Reload types", elem_id="reload-question-types",
                                     interactive=question_types is not None)
            types_password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled,
                                        elem_id="question-types-password")
            save_types = gr.Button("💾 Save types", elem_id="save-question-types",
                                   interactive=save_question_types is not None)
        types_status = gr.Markdown(elem_id="question-types-status")

    def show_question_types() -> tuple[pd.DataFrame, str]:
        if question_types is None:
            return type_frame([]), "Question types are unavailable in this app."
        try:
            return type_frame(question_types()), ""
        except ValueError as exc:  # the question set, or the stored edits, cannot be read
            return type_frame([]), f"❌ {exc}"

    def do_save_types(table: pd.DataFrame | None, given: str) -> tuple[pd.DataFrame, str]:
        require_admin(auth, given)  # changes the verdict's slices for everyone: an admin action
        if save_question_types is None:
            raise gr.Error("Saving question types is unavailable in this app.")
        try:
            saved = save_question_types(table_rows(table))
        except ValueError as exc:  # nothing was stored; the table keeps the user's edits to fix
            return table if table is not None else type_frame([]), f"❌ Nothing saved. {exc}"
        fresh, problem = show_question_types()
        word = "type" if saved == 1 else "types"
        return fresh, (f"✅ Saved {saved} edited {word}. Build the verdict again to see them in its slices."
                       + (f"\n\n{problem}" if problem else ""))

    def do_batch(count: float | None, given: str, progress=gr.Progress(track_tqdm=True)) -> tuple[str, str]:  # noqa: B008
        require_admin(auth, given)
        try:
            summary_text, archive = batch_report(int(count) if count else None)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        summary_text = summary_text.replace("# Batch evaluation", "### Batch evaluation", 1)
        return summary_text.replace("\n## Verdict", "\n#### Verdict", 1), str(archive)

    def show_verdict(fresh: bool, chosen: str) -> tuple[str, str, dict, pd.DataFrame, gr.BarPlot]:
        if verdict_page is None:
            raise gr.Error("The verdict is unavailable in this app.")
        try:
            return verdict_outputs(verdict_page(fresh), chosen)
        except ValueError as exc:  # the question set cannot be read
            raise gr.Error(str(exc)) from exc

    def show_stored_verdict(chosen: str) -> tuple[str, str, dict, pd.DataFrame, gr.BarPlot]:
        return show_verdict(True, chosen)

    def show_batch_verdict(chosen: str) -> tuple[str, str, dict, pd.DataFrame, gr.BarPlot]:
        return show_verdict(False, chosen)

    verdict_views = [verdict_summary, verdict_file, verdict_slices, slices, slices_plot]
    batch_run = run_batch.click(do_batch, inputs=[limit, password], outputs=[batch_summary, batch_file],
                                api_name=False, concurrency_limit=1, concurrency_id="evaluation")
    if verdict_page is not None:
        batch_run.success(show_batch_verdict, inputs=[dimension], outputs=verdict_views, api_name=False)
    build_verdict.click(show_stored_verdict, inputs=[dimension], outputs=verdict_views, api_name=False,
                        concurrency_limit=1, concurrency_id="verdict")
    dimension.change(chosen_slice_views, inputs=[verdict_slices, dimension], outputs=[slices, slices_plot],
                     api_name=False)
    refresh.click(refresh_all, outputs=[accuracy, table, summary, means_plot, spread_plot, verdict, agreement, scatter],
                  api_name=False)
    rescore_button.click(do_rescore, inputs=[rescore_password], outputs=[rescore_status], api_name=False)
    # Opening the tab clicks "Refresh scores": the types table fills then too.
    for shows_types in (refresh, reload_types):
        shows_types.click(show_question_types, outputs=[types_table, types_status], api_name=False)
    save_types.click(do_save_types, inputs=[types_table, types_password], outputs=[types_table, types_status],
                     api_name=False, concurrency_limit=1, concurrency_id="question-types")
