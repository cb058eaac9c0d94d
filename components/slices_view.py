"""Where each approach wins, as a table and a native bar plot: the view the Leaderboard and Evaluation tabs share.

The table gives every slice (a slice under the minimum of answers says "too few (n=3)"); the plot draws key-fact
accuracy per slice and approach, and its caption names the slices it left out for too few answers
(:mod:`pipelines.evaluation.slice_plots`). Both come from :class:`~pipelines.evaluation.slices.Slice` objects, so
this file holds no store or model code.

Example::

    table, plot = slice_components("leaderboard-slices-table", "leaderboard-slices-plot")
    refresh.click(lambda: slice_views(runtime.stored_slices(BY_TYPE)), outputs=[table, plot])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import gradio as gr
import pandas as pd

from pipelines.evaluation.slice_plots import X, accuracy_plot
from pipelines.evaluation.slices import MIN_SLICE_ANSWERS, Slice, slice_table

SLICE_COLUMNS = ["slice", "pipeline", "accuracy", "token F1", "abstained (out-of-corpus)", "abstained (answerable)",
                 "votes"]
PLOT_TOOLTIP = ["slice", "pipeline", "accuracy", "low", "high", "n"]


def slice_frame(slices: Iterable[Slice]) -> pd.DataFrame:
    """The slices as a table, every number as text ("too few (n=3)" included; votes as Bradley-Terry ratings)."""
    return pd.DataFrame(slice_table(slices), columns=SLICE_COLUMNS)


def slice_plot(slices: Iterable[Slice]) -> gr.BarPlot:
    """The bar plot's update: accuracy per slice and approach, too-few slices left out and named in the caption."""
    plot = accuracy_plot(slices)
    return gr.BarPlot(value=plot.frame, caption=plot.caption or None)


def slice_views(slices: Iterable[Slice]) -> tuple[pd.DataFrame, gr.BarPlot]:
    """The table and the plot of one dimension's slices."""
    pieces = list(slices)
    return slice_frame(pieces), slice_plot(pieces)


def chosen_slice_views(slices: Mapping[str, Sequence[Slice]] | None,
                       dimension: str) -> tuple[pd.DataFrame, gr.BarPlot]:
    """The table and plot of the chosen dimension, from every dimension's slices (kept in a session's state)."""
    return slice_views((slices or {}).get(dimension, ()))


def slice_components(table_id: str, plot_id: str) -> tuple[gr.Dataframe, gr.BarPlot]:
    """The slices table and, beside it, the accuracy plot (coloured by approach, 0..1, interval in the tooltip)."""
    with gr.Row():
        table = gr.Dataframe(label=f"Per slice and approach (a slice under {MIN_SLICE_ANSWERS} answers says "
                             "\"too few\"; votes: Bradley-Terry rating [95%], win rate)", elem_id=table_id,
                             interactive=False, wrap=True, scale=3)
        plot = gr.BarPlot(x=X, y="accuracy", color="pipeline", title="Key-fact accuracy per slice",
                          y_lim=[0, 1], x_label_angle=-40, tooltip=PLOT_TOOLTIP, elem_id=plot_id,
                          scale=2)
    return table, plot
