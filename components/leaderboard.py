"""The Leaderboard tab: who wins the votes, by how much, where each approach wins, and the preference data as files.

"Where each approach wins" slices every stored answer and vote to the question set by document, question type,
retrieval hit or miss, adapter version, or the set's split (a table with each slice's accuracy, votes'
Bradley-Terry ratings and intervals, and a bar plot of accuracy; :mod:`components.slices_view`), read through
the ``stored_slices`` callable the runtime provides, so this file holds no model or store code of its own.

Example::

    with gr.Blocks():
        build_leaderboard_tab(runtime.feedback, runtime.auth, questions, stored_slices=runtime.stored_slices)
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import gradio as gr
import pandas as pd

from components.admin import require_admin
from components.labeling_view import labeling_components, labeling_views
from components.slices_view import slice_components, slice_views
from pipelines.common.auth import AdminAuth
from pipelines.common.columns import label
from pipelines.common.correctness import accuracy_by_pipeline
from pipelines.evaluation.slices import BY_TYPE, DIMENSIONS, Slice
from pipelines.feedback.export import export_feedback
from pipelines.feedback.labeling import labeling_report
from pipelines.feedback.leaderboard import LeaderboardFilter, store_leaderboard
from pipelines.feedback.ratings_summary import rating_summary
from pipelines.feedback.store import FeedbackStore

ACCURACY_COLUMNS = ["accuracy (key fact)", "accuracy 95%", "answers scored"]


def row_label(name: str) -> str:
    """A leaderboard row's name: the column's label, with the adapter version when rows are split by adapter."""
    pipeline, _, adapter = name.partition("@")
    return f"{label(pipeline)} · {adapter}" if adapter else label(pipeline)


def _accuracy_cells(accuracy: dict, pipeline: str) -> dict:
    found = accuracy.get(pipeline.partition("@")[0])
    if found is None:
        return dict.fromkeys(ACCURACY_COLUMNS)
    fact, _f1 = found
    return {"accuracy (key fact)": round(fact.mean, 3), "accuracy 95%": f"{fact.low:.0%} – {fact.high:.0%}",
            "answers scored": fact.n}


def leaderboard_frame(feedback: FeedbackStore, where: LeaderboardFilter | None = None) -> pd.DataFrame:
    """Votes (Bradley-Terry rating, win rate) beside correctness: the share of scored answers that are right (hold
    the key; on an out-of-corpus question, say the documents do not say)."""
    rows = store_leaderboard(feedback, where=where)
    accuracy = accuracy_by_pipeline(feedback.scores())
    return pd.DataFrame(
        [
            {
                "pipeline": row_label(r.pipeline),
                "rating": round(r.rating),
                "95% interval": f"{r.rating_low:.0f} – {r.rating_high:.0f}",
                "win rate": round(r.win_rate, 3),
                "votes": r.votes,
                "wins": r.wins,
                "losses": r.losses,
                "ties": r.ties,
                **_accuracy_cells(accuracy, r.pipeline),
            }
            for r in rows
        ],
        columns=["pipeline", "rating", "95% interval", "win rate", "votes", "wins", "losses", "ties",
                 *ACCURACY_COLUMNS],
    )


def ratings_frames(feedback: FeedbackStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-pipeline rating summary, and the newest comments as plain text (never rendered as HTML)."""
    summary = pd.DataFrame(rating_summary(feedback.ratings()))
    if not summary.empty:
        summary["pipeline"] = summary["pipeline"].map(row_label)
    comments = pd.DataFrame(
        [{"when": c["created_at"][:16].replace("T", " "), "rater": c["rater"], "answer": row_label(c["pipeline"]),
          "score": c["score"], "comment": c["comment"], "question": c["question"]} for c in feedback.comments()],
        columns=["when", "rater", "answer", "score", "comment", "question"],
    )
    return summary, comments


def stored_slice_views(stored_slices: Callable[[str], Sequence[Slice]] | None,
                       dimension: str) -> tuple[pd.DataFrame, gr.BarPlot, str]:
    """The slices table, the accuracy plot and a note (why there is nothing to show, or "") for one dimension."""
    if stored_slices is None:
        return *slice_views(()), "Slices are unavailable in this app."
    try:
        found = stored_slices(dimension)
    except ValueError as exc:  # the question set cannot be read: the leaderboard above still shows
        return *slice_views(()), f"⚠️ {exc}"
    note = "" if found else ("No stored answer to the question set yet: ask its questions in the Arena, or run "
                             "a batch evaluation in the Evaluation tab.")
    return *slice_views(found), note


def build_leaderboard_tab(
    feedback: FeedbackStore, auth: AdminAuth, questions: list[str],
    improve_adapter: Callable[[bool], str] | None = None,
    stored_slices: Callable[[str], Sequence[Slice]] | None = None,
) -> None:
    """``stored_slices(dimension)``: every stored answer and vote to the question set, sliced by that dimension
    (a ValueError when the question set cannot be read)."""
    gr.Markdown(
        "Bradley-Terry ratings (Elo scale, mean 1000) from each rater's latest vote on each exchange; a tie or "
        "*both bad* counts half a win for each side. Intervals: 95% bootstrap over votes."
    )
    with gr.Row():
        by_adapter = gr.Checkbox(label="One row per adapter version", elem_id="by-adapter")
        in_set = gr.Checkbox(label="Only questions from the question set", elem_id="in-question-set")
        since = gr.Textbox(label="Votes since (YYYY-MM-DD)", elem_id="since")
        rater = gr.Textbox(label="Rater id", elem_id="rater")
    refresh = gr.Button("↻ Refresh leaderboard", elem_id="refresh-leaderboard")
    table = gr.Dataframe(label="Leaderboard", elem_id="leaderboard", interactive=False)
    plot = gr.BarPlot(x="pipeline", y="rating", title="Rating by pipeline", elem_id="leaderboard-plot")
    with gr.Accordion("Where each approach wins", open=True, elem_id="leaderboard-slices-panel"):
        gr.Markdown("Every stored answer to the question set (filters above leave it as is), split by the question's "
                    "document, its type, whether retrieval found its passage, the adapter version that answered, or "
                    "its split (train questions may be in the adapter's training pairs). "
                    "Accuracy: the key fact in the answer (on an out-of-corpus question: saying the documents do not "
                    "say), 95% Wilson interval; votes: Bradley-Terry rating with its 95% bootstrap interval and the "
                    "win rate. The plot leaves out a slice with too few answers and says so below it.")
        slice_dimension = gr.Dropdown(choices=list(DIMENSIONS), value=BY_TYPE, label="Slices by",
                                      elem_id="leaderboard-slices-dimension")
        slice_note = gr.Markdown(elem_id="leaderboard-slices-note")
        slice_table, slice_plot = slice_components("leaderboard-slices-table", "leaderboard-slices-plot")
    with gr.Accordion("Raters: agreement, and the ratings with style held equal", open=True,
                      elem_id="labeling-panel"):
        gr.Markdown("Agreement: votes given through rating queues, on items two or more raters judged "
                    "(Krippendorff's alpha for nominal data, 95% bootstrap interval over items; per rater, how "
                    "often they chose as the majority of the others did, and their accuracy on gold items). "
                    "Style control, as Chatbot Arena does it: a logistic regression of each vote on the two "
                    "approaches and the differences in answer length, citations and declining, so each approach's "
                    "rating is read with style held equal (the filters above apply).")
        labeling = labeling_components()
    with gr.Accordion("Per-answer ratings and comments", open=True, elem_id="ratings-panel"):
        ratings_table = gr.Dataframe(label="Ratings per pipeline (each rater's latest rating of an answer)",
                                     elem_id="ratings-summary", interactive=False)
        comments_table = gr.Dataframe(label="Newest comments", elem_id="comments", interactive=False,
                                      datatype=["str", "str", "str", "number", "str", "str"], wrap=True)
    password = gr.Textbox(label="Admin password (needed for export and training)", type="password",
                          visible=auth.enabled, elem_id="admin-password")
    with gr.Row():
        export = gr.Button("⬇ Export preference data (DPO + ratings JSONL)", elem_id="export")
        with_names = gr.Checkbox(False, label="Include rater user names", elem_id="export-user-names")
        agreed_only = gr.Checkbox(False, label="Only items raters agreed on (export and DPO)",
                                  elem_id="agreed-only")
        files = gr.File(label="Exported files", file_count="multiple", elem_id="export-files")

    question_set = frozenset(questions)

    def votes_filter(split: bool, only_set: bool, since_date: str, rater_id: str) -> LeaderboardFilter:
        """The filters' values as the votes they keep (a ValueError for a date that is not one)."""
        return LeaderboardFilter(since=since_date.strip() or None, rater=rater_id.strip() or None,
                                 questions=question_set if only_set else None, by_adapter=split)

    def show(split: bool, only_set: bool, since_date: str, rater_id: str) -> tuple:
        try:
            where = votes_filter(split, only_set, since_date, rater_id)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        frame = leaderboard_frame(feedback, where)
        ratings = ratings_frames(feedback)
        if frame.empty:
            return frame, gr.BarPlot(value=frame[["pipeline", "rating"]]), *ratings
        # Bars grow from below the lowest rating, so the weakest pipeline still shows a bar.
        floor = float(frame["rating"].min()) - 100
        plot_update = gr.BarPlot(value=frame[["pipeline", "rating"]], y_lim=[floor, float(frame["rating"].max()) + 50])
        return frame, plot_update, *ratings

    def show_slices(dimension: str) -> tuple[pd.DataFrame, gr.BarPlot, str]:
        return stored_slice_views(stored_slices, dimension)

    def show_labeling(split: bool, only_set: bool, since_date: str, rater_id: str) -> tuple:
        try:
            where = votes_filter(False, only_set, since_date, rater_id)   # style control never splits by adapter
        except ValueError:  # said by the leaderboard's own refresh
            where = None
        return labeling_views(labeling_report(feedback, where=where))

    def do_export(given: str, user_names: bool = False, agreed: bool = False) -> list[str]:
        require_admin(auth, given)
        result = export_feedback(feedback, Path(tempfile.mkdtemp(prefix="arena-export-")),
                                 include_raters=user_names is True, agreed_only=agreed is True)
        return [str(path) for path in (result.dpo_jsonl, result.ratings_jsonl, result.queue_votes_jsonl,
                                       result.agreement_json) if path is not None]

    with gr.Row():
        improve = gr.Button("🧪 Improve the fine-tuned adapter from these votes (DPO, experimental)",
                            elem_id="improve-adapter", interactive=improve_adapter is not None)
        improve_status = gr.Markdown(elem_id="improve-status")

    def run_improve(given: str, agreed: bool = False) -> Iterator[str]:
        require_admin(auth, given)  # refused like every other admin action: an error, and no "Training…"
        yield "⏳ Training… (a short DPO run; the arena keeps answering meanwhile)"
        try:
            yield improve_adapter(agreed is True)
        except ValueError as exc:
            yield f"⚠️ {exc}"

    filters = [by_adapter, in_set, since, rater]
    shown = [table, plot, ratings_table, comments_table]
    sliced = [slice_table, slice_plot, slice_note]
    # The slices follow the refresh (and the tab's opening, which clicks it), not the filters, which they ignore;
    # chained after it, so the /leaderboard endpoint keeps its inputs and outputs.
    refresh.click(show, inputs=filters, outputs=shown, api_name="leaderboard").then(
        show_slices, inputs=[slice_dimension], outputs=sliced, api_name=False).then(
        show_labeling, inputs=filters, outputs=labeling, api_name=False)
    slice_dimension.change(show_slices, inputs=[slice_dimension], outputs=sliced, api_name=False)
    gr.on([by_adapter.change, in_set.change, since.submit, rater.submit], show, inputs=filters,
          outputs=shown, api_name=False)
    improve.click(
        run_improve, inputs=[password, agreed_only], outputs=[improve_status], api_name="improve_adapter",
        concurrency_limit=1)
    # The public export is /export (components/api_feedback.py).
    export.click(do_export, inputs=[password, with_names, agreed_only], outputs=[files], api_name=False)
