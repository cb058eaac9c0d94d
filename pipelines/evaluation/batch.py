"""Batch evaluation: every pipeline answers every question of a set, ragas scores it all, a report is written.

    python -m pipelines.evaluation --questions assets/questions.jsonl --out reports/today [--limit 10]

The report folder holds ``scores.csv`` (one row per question, pipeline and metric),
``summary.md`` and ``summary.html`` (mean of each metric per pipeline, and how many answers it covers),
``dataset.jsonl`` (the samples that were scored, with their pipeline), ``ragas_dataset.jsonl`` (the same
as a ragas ``EvaluationDataset``) and the verdict (:mod:`pipelines.evaluation.verdict`): ``verdict.html``, one
page on which approach to use and why, built from this run's stored exchanges, and ``verdict.md``; its
recommendation also ends ``summary.md``. Exchanges and scores also go to the feedback store, so the
Evaluation tab shows them.

    report = run_batch(runtime, Path("assets/questions.jsonl"), Path("reports/today"), limit=10)
    report.verdict_page                      # reports/today/verdict.html
    report.verdict.recommendation.case       # 'clear', 'close' or 'thin'
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from pipelines.common.correctness import accuracy_by_pipeline
from pipelines.common.questions import QuestionItem
from pipelines.common.settings import Settings
from pipelines.evaluation.question_tags import typed_questions
from pipelines.evaluation.saved_question_sets import content_hash
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet
from pipelines.evaluation.verdict import (
    VERDICT_HTML,
    Verdict,
    build_verdict,
    measure_memory,
    reset_gpu_peak,
    summary_markdown,
    write_verdict,
)
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.base import make_chunker
from pipelines.knowledge.embeddings import Embedder


class BatchRuntime(Protocol):
    """What a batch run needs of the started app (:class:`pipelines.runtime.Runtime` is one): evaluation sits
    below the runtime and beside the arena, so it asks through this rather than importing either."""

    settings: Settings
    embedder: Embedder | None
    feedback: FeedbackStore
    judge_factory: Callable[[object], object] | None

    def answer_every_column(self, question: str, session_id: str, collection: str | None = None) -> str:
        """Ask every pipeline of the arena (the optional third column included), retrieving from ``collection``
        (None: the default one), and wait for every answer (the runtime drains ``Arena.answer_whole``); the
        stored exchange's id."""
        ...

    def judge_status(self) -> str: ...

    def adapter_folder(self) -> Path | None:
        """The fine-tuned column's adapter folder on this machine (the verdict's training time, size and data),
        or None (a remote server's adapter, or none loaded)."""
        ...


@dataclass(frozen=True)
class BatchReport:
    """A written report folder: ``rows`` are the score rows; ``verdict`` the run's verdict (None when the run
    was asked not to build one)."""

    folder: Path
    questions: int
    rows: list[dict]
    verdict: Verdict | None = None
    set_name: str = ""  # the question set, with its content hash

    @property
    def verdict_page(self) -> Path | None:
        """The run's ``verdict.html``, once written."""
        page = self.folder / VERDICT_HTML
        return page if self.verdict is not None and page.is_file() else None

    def means(self, by_split: bool = False) -> dict[tuple[str, ...], tuple[float, int]]:
        """(pipeline, metric[, split]) -> (mean over scored answers, how many answers)."""
        values: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for row in self.rows:
            if row["status"] == "ok":
                key = (row["pipeline"], row["metric"], row["split"]) if by_split else (row["pipeline"], row["metric"])
                values[key].append(row["value"])
        return {key: (sum(v) / len(v), len(v)) for key, v in sorted(values.items())}


def run_batch(runtime: BatchRuntime, questions_file: Path, out_dir: Path, limit: int | None = None, *,
              verdict: bool = True, set_name: str | None = None, collection: str | None = None,
              corpus_dir: Path | None = None) -> BatchReport:
    """Ask, score and report with a started runtime (its model, Weaviate and feedback store); ``verdict``: also
    build the verdict from this run's stored exchanges and write ``verdict.html`` (the costs it shows are this
    run's: its answer times and the GPU peak from its start). A collection's set (``collection``, its documents
    in ``corpus_dir``) retrieves from that collection; ``set_name`` (default: the file's name and content hash)
    names the set in the summary, ``question_set.json`` and the verdict."""
    settings = runtime.settings
    corpus_dir = corpus_dir or settings.corpus_dir
    set_name = set_name or f"{questions_file.name} (sha256 {content_hash(questions_file)[:12]})"
    reset_gpu_peak()
    references = ReferenceSet.load(questions_file, corpus_dir, make_chunker(runtime.embedder, settings))
    questions = references.questions()[:limit] if limit else references.questions()
    if not questions:
        raise ValueError(f"No questions in {questions_file}")
    # Read before any answer: a damaged type-edits file must stop the run here, not after every question is asked.
    items = typed_questions(questions_file, settings.data_dir) if verdict else []
    scorer = RagasScorer(runtime.embedder, references, runtime.judge_factory)
    session_id = f"batch-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    exchanges = []
    for question in tqdm(questions, desc="questions", unit="q"):
        exchanges.append(runtime.feedback.exchange(runtime.answer_every_column(question, session_id, collection)))
    scored = scorer.score_exchanges(exchanges)  # one ragas.evaluate per metric set for the whole run
    rows: list[dict] = []
    samples: list[dict] = []
    for exchange in exchanges:
        runtime.feedback.add_scores(exchange["id"], scored[exchange["id"]], scorer=scorer.name)
        reference = references.find(exchange["question"])
        for pipeline, answer in exchange["answers"].items():
            samples.append({"pipeline": pipeline, "user_input": exchange["question"], "response": answer["answer"],
                            "reference": reference.answer if reference else None,
                            "retrieved_contexts": [c["text"] for c in answer["contexts"]], "error": answer["error"]})
        split = reference.split if reference else ""
        rows += [{"question": exchange["question"], "split": split, "exchange_id": exchange["id"],
                  "scorer": scorer.name, **row} for row in scored[exchange["id"]]]
    report = BatchReport(out_dir, len(questions), rows,
                         _verdict(runtime, set_name, corpus_dir, items, session_id, exchanges) if verdict else None,
                         set_name)
    _write(report, samples, scorer.name, runtime.judge_status())
    (out_dir / "question_set.json").write_text(json.dumps(
        {"name": set_name, "file": str(questions_file), "sha256": content_hash(questions_file),
         "collection": collection, "questions": len(questions)}, indent=2))
    return report


def _verdict(runtime: BatchRuntime, set_name: str, corpus_dir: Path, items: list[QuestionItem], session_id: str,
             exchanges: list[dict]) -> Verdict:
    """The run's verdict from the store: its exchanges, the set's items (with the user's type edits in the data
    dir: :mod:`pipelines.evaluation.question_tags`), the active adapter and the documents."""
    return build_verdict(
        runtime.feedback, items, set_name=set_name,
        scope=f"batch run {session_id}", exchange_ids=[exchange["id"] for exchange in exchanges],
        adapter_folder=runtime.adapter_folder(), corpus_dir=corpus_dir,
        memory=measure_memory(gpu_scope="during this run"))


def zip_report(folder: Path) -> Path:
    """The report folder as one zip beside it (the Evaluation tab's download)."""
    return Path(shutil.make_archive(str(folder), "zip", root_dir=folder))


def _write(report: BatchReport, samples: list[dict], scorer: str, judge: str) -> None:
    from ragas import EvaluationDataset, SingleTurnSample

    report.folder.mkdir(parents=True, exist_ok=True)
    with (report.folder / "scores.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["question", "split", "exchange_id", "pipeline", "metric",
                                                    "value", "status", "reason", "scorer"])
        writer.writeheader()
        writer.writerows(report.rows)
    (report.folder / "dataset.jsonl").write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
    # The same answers as ragas' own EvaluationDataset file (EvaluationDataset.from_jsonl reads it back), one
    # sample per answer in dataset.jsonl's order; failed answers left out.
    EvaluationDataset(samples=[
        SingleTurnSample(user_input=s["user_input"], response=s["response"], reference=s["reference"],
                         retrieved_contexts=s["retrieved_contexts"] or None)
        for s in samples if not s["error"]
    ]).to_jsonl(report.folder / "ragas_dataset.jsonl")
    lines = [f"# Batch evaluation ({report.questions} questions, {scorer})", "",
             f"Question set: {report.set_name}", "", judge, "",
             "Right answers (the question's key fact in the answer; on a question no document answers, saying "
             "the documents do not say; token F1 against the key), 95% intervals:", "",
             "| pipeline | key-fact accuracy | token F1 | answers |", "|---|---|---|---|"]
    lines += [f"| {pipeline} | {fact} | {f1.mean:.2f} [{f1.low:.2f}, {f1.high:.2f}] | {fact.n} |"
              for pipeline, (fact, f1) in accuracy_by_pipeline(report.rows).items()]
    lines += ["", "Every metric:", "", "| pipeline | metric | mean | answers |", "|---|---|---|---|"]
    lines += [f"| {pipeline} | {metric} | {mean:.3f} | {count} |"
              for (pipeline, metric), (mean, count) in report.means().items()]
    if len({r["split"] for r in report.rows}) > 1:
        lines += ["", "By split of the question set (the fine-tuned adapter was trained on the `train` split only):",
                  "", "| pipeline | metric | split | mean | answers |", "|---|---|---|---|---|"]
        lines += [f"| {pipeline} | {metric} | {split or '-'} | {mean:.3f} | {count} |"
                  for (pipeline, metric, split), (mean, count) in report.means(by_split=True).items()]
    skipped = sorted({(r["pipeline"], r["metric"], r["reason"]) for r in report.rows if r["status"] != "ok"})
    if skipped:
        lines += ["", "Not scored:", *[f"- {p} / {m}: {reason}" for p, m, reason in skipped]]
    if report.verdict is not None:
        write_verdict(report.verdict, report.folder)
        lines += ["", summary_markdown(report.verdict).replace("### Verdict", "## Verdict", 1)]
    (report.folder / "summary.md").write_text("\n".join(lines) + "\n")
    (report.folder / "summary.html").write_text(_html_summary(report, scorer, judge))


def _html_summary(report: BatchReport, scorer: str, judge: str) -> str:
    """The per-pipeline table with a bar in each cell (every metric here lies in [0, 1]), one page, no JS."""
    import html

    import pandas as pd

    means = pd.DataFrame([{"metric": metric, "pipeline": pipeline, "mean": mean}
                          for (pipeline, metric), (mean, _count) in report.means().items()])
    if means.empty:
        table = "<p>No metric could be computed.</p>"
    else:
        wide = means.pivot(index="metric", columns="pipeline", values="mean")
        table = (wide.style.bar(vmin=0.0, vmax=1.0, color="#8fb3ff", height=70).format("{:.3f}", na_rep="–")
                 .set_caption("Mean of each metric per pipeline (bar: 0 to 1)").to_html())
    return (f"<!doctype html><meta charset='utf-8'><title>Batch evaluation</title>"
            f"<h1>Batch evaluation: {report.questions} questions</h1><p>{html.escape(scorer)}</p>"
            f"<p>{html.escape(judge.replace('**', '').replace('`', ''))}</p>{table}"
            "<p>Every score, with failures and their reasons: <code>scores.csv</code>; the scored ragas samples: "
            "<code>dataset.jsonl</code> (as a ragas EvaluationDataset: <code>ragas_dataset.jsonl</code>).</p>"
            + (f"<p>Which approach to use, and why: <a href=\"{VERDICT_HTML}\">{VERDICT_HTML}</a>.</p>"
               if report.verdict is not None else ""))
