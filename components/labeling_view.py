"""The Leaderboard tab's raters panel: agreement between raters (rating queues) and the ratings with the answers'
style held equal, as tables and a sentence, from a :class:`~pipelines.feedback.labeling.LabelingReport` (this
file only formats; the figures come from ``pipelines.feedback``).

Example::

    with gr.Blocks():
        outputs = labeling_components()
    agreement_text, raters, style, coefficients = labeling_views(labeling_report(store))
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from pipelines.common.columns import label
from pipelines.feedback.labeling import LabelingReport

RATER_COLUMNS = ["rater", "votes", "with the majority of the others", "items with such a majority",
                 "gold accuracy", "gold items"]
STYLE_COLUMNS = ["pipeline", "rating (plain)", "rating, style held equal", "95% interval"]
COEFFICIENT_COLUMNS = ["style feature", "coefficient", "95% interval", "raters prefer"]
FEATURE_NAMES = {"tokens": "answer length (words)", "citations": "citations", "declined": "declined to answer"}


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def agreement_markdown(report: LabelingReport) -> str:
    """One paragraph: items with two or more votes, the share of agreeing pairs, alpha with its interval."""
    found = report.agreement
    if not found.items:
        return ("**Agreement between raters:** no item has two votes yet. Build a rating queue (Rating queue tab) "
                f"with two or more raters per item; queue votes so far: {report.queue_votes}.")
    alpha = "undefined (every vote the same choice)" if found.alpha is None else f"{found.alpha:.2f}"
    if found.alpha is not None and found.alpha_low is not None:
        alpha += f" (95% interval {found.alpha_low:.2f} – {found.alpha_high:.2f})"
    return (f"**Agreement between raters** over {found.items} items with two or more votes: "
            f"{_share(found.pairwise)} of rater pairs chose alike; Krippendorff's alpha (nominal) {alpha}. "
            "Alpha 1 is perfect agreement, 0 what chance gives; below about 0.67 raters disagree too often to "
            "trust a single vote.")


def rater_frame(report: LabelingReport) -> pd.DataFrame:
    """Per rater: votes, agreement with the majority of the other raters, gold accuracy (a careless rater shows
    as the lowest)."""
    return pd.DataFrame(
        [{"rater": r.rater, "votes": r.votes, "with the majority of the others": _share(r.with_majority),
          "items with such a majority": r.majority_n, "gold accuracy": _share(r.gold_accuracy),
          "gold items": r.gold_n} for r in report.agreement.raters],
        columns=RATER_COLUMNS)


def style_frame(report: LabelingReport) -> pd.DataFrame:
    """Each approach's rating plain and with style held equal (Elo scale, mean 1000), with the interval."""
    style = report.style
    rows = [{"pipeline": label(name), "rating (plain)": round(style.plain.get(name, float("nan"))),
             "rating, style held equal": round(rating),
             "95% interval": (f"{style.intervals[name][0]:.0f} – {style.intervals[name][1]:.0f}"
                              if name in style.intervals else "")}
            for name, rating in sorted(style.ratings.items(), key=lambda item: -item[1])]
    return pd.DataFrame(rows, columns=STYLE_COLUMNS)


def coefficient_frame(report: LabelingReport) -> pd.DataFrame:
    """Each style feature's coefficient (log-odds per standard deviation of its difference) and its sign."""
    style = report.style
    rows = []
    for name, value in style.coefficients.items():
        low, high = style.coefficient_intervals.get(name, (None, None))
        rows.append({"style feature": FEATURE_NAMES.get(name, name), "coefficient": round(value, 3),
                     "95% interval": "" if low is None else f"{low:.2f} – {high:.2f}",
                     "raters prefer": "more" if value > 0 else "less" if value < 0 else "no difference"})
    return pd.DataFrame(rows, columns=COEFFICIENT_COLUMNS)


def style_sentence(report: LabelingReport) -> str:
    """Whether the winner changes once style is held equal."""
    style = report.style
    if not style.battles:
        return "**Style control:** no vote yet."
    if style.winner_changed:
        return (f"**Style control** over {style.battles} comparisons: the winner **changes** once style is held "
                f"equal: {label(style.plain_winner)} leads on plain votes, {label(style.winner)} with style held "
                "equal. Part of the plain lead is the look of the answers.")
    return (f"**Style control** over {style.battles} comparisons: {label(style.winner)} leads with and without "
            "style held equal.")


def _fitted_features(report: LabelingReport) -> str:
    if report.style.coefficients:
        return ""
    return (" No style feature varied from one comparison to another (or it always moved with the approach), so"
            " none could be weighed: the two tables agree.")


def labeling_views(report: LabelingReport) -> tuple[str, pd.DataFrame, str, pd.DataFrame, pd.DataFrame]:
    """Everything the panel shows, in :func:`labeling_components`' order."""
    sentence = style_sentence(report) + (_fitted_features(report) if report.style.battles else "")
    return (agreement_markdown(report), rater_frame(report), sentence, style_frame(report),
            coefficient_frame(report))


def labeling_components() -> list:
    """The panel's components (call inside a Blocks context)."""
    agreement = gr.Markdown(elem_id="agreement-summary")
    raters = gr.Dataframe(label="Raters", elem_id="agreement-raters", interactive=False)
    sentence = gr.Markdown(elem_id="style-summary")
    style = gr.Dataframe(label="Ratings with style held equal", elem_id="style-ratings", interactive=False)
    coefficients = gr.Dataframe(label="Style coefficients", elem_id="style-coefficients", interactive=False)
    return [agreement, raters, sentence, style, coefficients]
