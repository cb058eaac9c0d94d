"""Slices as a bar plot's data: key-fact accuracy per slice and approach, with its 95% interval and answer count.

The slice table (:func:`~pipelines.evaluation.slices.slice_table`) shows every slice, and says "too few (n=3)"
where a slice has fewer answers than the minimum. A bar there would be the very number the table refuses to
give, so the plot leaves such a slice and approach out, and its caption names what it left out. The frame is
long-form (one row per slice and approach), as Gradio's native ``gr.BarPlot`` reads it; the x value joins slice
and approach, since bars that share an x value would stack and accuracies do not add up.

Example::

    plot = accuracy_plot(slice_by(answers, votes, BY_TYPE))
    plot.frame    # slice · pipeline | slice | pipeline | accuracy | low | high | n   (accuracy 0..1)
    plot.caption  # "Left out, too few answers: lookup · RAG (n=2), lookup · Fine-tuned (n=2)"
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pipelines.common.columns import label
from pipelines.evaluation.slices import Slice

X = "slice · pipeline"
PLOT_COLUMNS = [X, "slice", "pipeline", "accuracy", "low", "high", "n"]
_DTYPES = {X: "object", "slice": "object", "pipeline": "object", "accuracy": "float64", "low": "float64",
           "high": "float64", "n": "int64"}


@dataclass(frozen=True)
class SlicePlot:
    """The bars to draw (``frame``) and the slices left out for too few answers ("lookup · RAG (n=2)")."""

    frame: pd.DataFrame
    left_out: tuple[str, ...] = ()

    @property
    def caption(self) -> str:
        """What the plot does not show and why ("" when it shows every slice)."""
        return f"Left out, too few answers: {', '.join(self.left_out)}" if self.left_out else ""


def accuracy_plot(slices: Iterable[Slice]) -> SlicePlot:
    """One row per slice and approach whose accuracy has enough answers (the table's order: slices by value,
    approaches by name, labelled as the table labels them); the others named in ``left_out``."""
    rows, left_out = [], []
    for piece in slices:
        for pipeline, numbers in sorted(piece.pipelines.items()):
            name = label(pipeline)
            accuracy = numbers.accuracy
            if accuracy.interval is None:
                left_out.append(f"{piece.value} · {name} (n={accuracy.n})")
                continue
            interval = accuracy.interval
            rows.append({X: f"{piece.value} · {name}", "slice": piece.value, "pipeline": name,
                         "accuracy": interval.mean, "low": interval.low, "high": interval.high, "n": interval.n})
    frame = pd.DataFrame(rows, columns=PLOT_COLUMNS).astype(_DTYPES)
    return SlicePlot(frame, tuple(left_out))
