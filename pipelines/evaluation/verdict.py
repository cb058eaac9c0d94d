"""The verdict: for one question set, which approach to use for these documents, and why, as one HTML page.

Built from stored exchanges (a batch run's, or every stored answer to the set) so every number on the page can
be checked against the feedback store:

* **accuracy per approach** (key fact and abstention rules, :mod:`pipelines.evaluation.slices`) with 95%
  Wilson intervals, drawn as bars with whiskers;
* **where each approach wins**, slice by slice (document, question type, retrieval hit or miss, adapter),
  with the leader and how sure that is (intervals apart or overlapping); a slice under the minimum says
  "too few (n=…)" instead of a number;
* **honesty**: on out-of-corpus questions, how often each column said the documents do not say, and how
  often it made something up (the counts always, the shares once a slice has enough answers); and how often
  it declined an answerable question;
* **the knowledge update**: accuracy on questions whose source document changed after the adapter's
  training data, or a sentence saying the set has none;
* **costs measured in the same run**: answer and retrieval latency per column from the stored timings,
  the active adapter's training time and size (``arena_adapter.json``, its folder), and memory;
* **the recommendation** written by rules (:mod:`pipelines.evaluation.recommendation`).

:func:`render_html` writes one self-contained page (inline CSS and SVG, no scripts, every text escaped);
:func:`render_markdown` the same in short for a terminal; :func:`write_verdict` puts ``verdict.html`` and
``verdict.md`` in a folder (a batch run's report folder does this itself).

Example::

    verdict = build_verdict(store, load_questions(Path("assets/questions.jsonl")), set_name="questions.jsonl",
                            exchange_ids=run_ids, adapter_folder=Path("assets/adapters/lumenhollow-qlora"),
                            corpus_dir=Path("assets/corpus"), memory=measure_memory())
    verdict.overall.pipelines["rag"].accuracy       # 75% [60%, 86%] (n=40)
    verdict.recommendation.case                     # 'clear', 'close' or 'thin'
    page = write_verdict(verdict, Path("reports/today"))   # reports/today/verdict.html
"""

from __future__ import annotations

import html
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pipelines.common.columns import BY_NAME, COLUMNS, label
from pipelines.common.documents import document_files
from pipelines.common.question_types import OUT_OF_CORPUS, UPDATED, AdapterData, DocumentStamp, updated_sources
from pipelines.common.questions import TRAIN_SPLIT, QuestionItem
from pipelines.evaluation.recommendation import CLEAR, CLOSE, MIN_VERDICT_ANSWERS, Recommendation, recommendation
from pipelines.evaluation.slices import (
    BY_SPLIT,
    BY_TYPE,
    DIMENSIONS,
    MIN_SLICE_ANSWERS,
    AnswerRow,
    Measure,
    Slice,
    all_slices,
    describe,
    overall,
    rows_from_exchanges,
    slice_table,
)
from pipelines.feedback.labeling import LabelingReport, labeling_report
from pipelines.feedback.store import FeedbackStore

ADAPTER_METADATA = "arena_adapter.json"  # what training writes beside the weights (training.config.METADATA_FILE)
VERDICT_HTML = "verdict.html"
VERDICT_MD = "verdict.md"
MAX_QUESTION_ROWS = 500  # the per-question table stops here (the numbers above still count every answer)


# ---------------------------------------------------------------------------------------------------- costs


@dataclass(frozen=True)
class ColumnCost:
    """A column's measured times over its stored answers: mean seconds from the question to the end of the
    answer (``answer_s``) and to the first token, and mean retrieval time over the answers that retrieved."""

    pipeline: str
    answers: int
    answer_s: float | None
    first_token_s: float | None = None
    retrieval_s: float | None = None
    retrievals: int = 0


@dataclass(frozen=True)
class AdapterCost:
    """The active adapter's cost, from its ``arena_adapter.json`` and its folder."""

    name: str
    size_bytes: int
    training_s: float | None = None
    device: str = ""
    quantization: str = ""
    examples: int | None = None
    steps: int | None = None
    peak_gpu_memory_mb: float | None = None  # during training (CUDA runs only)
    created_at: str = ""


@dataclass(frozen=True)
class MemoryUse:
    """Memory seen by the app's process: its peak resident memory since it started, and PyTorch's peak GPU
    allocation (``gpu_scope`` says over what: "during this run" when the peak was reset at its start)."""

    process_peak_mb: float | None
    gpu_peak_mb: float | None = None
    gpu_scope: str = "since the app started"


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def column_costs(exchanges: Iterable[Mapping]) -> dict[str, ColumnCost]:
    """Per column, the mean stored timings (``total_s``, ``first_token_s``, ``retrieval_s``) of its answers
    that did not fail; a column with no timed answer is left out."""
    totals: dict[str, list[float]] = defaultdict(list)
    firsts: dict[str, list[float]] = defaultdict(list)
    retrievals: dict[str, list[float]] = defaultdict(list)
    for exchange in exchanges:
        for pipeline, answer in exchange["answers"].items():
            if answer.get("error") or answer.get("total_s") is None:
                continue
            totals[pipeline].append(float(answer["total_s"]))
            if answer.get("first_token_s") is not None:
                firsts[pipeline].append(float(answer["first_token_s"]))
            if answer.get("retrieval_s") is not None:
                retrievals[pipeline].append(float(answer["retrieval_s"]))
    return {p: ColumnCost(p, len(values), _mean(values), _mean(firsts[p]), _mean(retrievals[p]), len(retrievals[p]))
            for p, values in totals.items()}


def adapter_metadata(folder: Path | None) -> dict | None:
    """The adapter folder's ``arena_adapter.json`` as a dict; None when absent or unreadable."""
    if folder is None:
        return None
    try:
        meta = json.loads((folder / ADAPTER_METADATA).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def adapter_cost(folder: Path | None) -> AdapterCost | None:
    """Training time, device and size of the adapter in ``folder``; None when it is not a folder here (a
    remote generation server's adapter, or none loaded)."""
    if folder is None or not folder.is_dir():
        return None
    meta = adapter_metadata(folder) or {}
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    data_hash = meta.get("data_hash")
    steps, examples = _number(meta.get("steps")), _number(meta.get("examples"))
    return AdapterCost(
        name=f"{folder.name}@{data_hash[:8]}" if isinstance(data_hash, str) and data_hash else folder.name,
        size_bytes=size, training_s=_number(meta.get("duration_s")), device=str(meta.get("device") or ""),
        quantization=str(meta.get("quantization") or ""), examples=None if examples is None else int(examples),
        steps=None if steps is None else int(steps), peak_gpu_memory_mb=_number(meta.get("peak_gpu_memory_mb")),
        created_at=str(meta.get("created_at") or ""),
    )


def changed_documents(corpus_dir: Path | None, adapter_folder: Path | None) -> frozenset[str]:
    """The documents of ``corpus_dir`` added or changed after the adapter's training data (by the digests the
    run recorded, else by time: :func:`~pipelines.common.question_types.source_updated`): what makes a question
    an ``updated`` one."""
    meta = adapter_metadata(adapter_folder)
    if meta is None or corpus_dir is None or not corpus_dir.is_dir():
        return frozenset()
    return updated_sources((DocumentStamp.of_file(path) for path in document_files(corpus_dir)),
                           AdapterData.from_metadata(meta))


def reset_gpu_peak() -> None:
    """Start PyTorch's GPU peak count afresh, so :func:`measure_memory` reports this run's peak (no-op
    without a loaded torch and a started CUDA context: nothing is imported or started here)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.reset_peak_memory_stats()
    except Exception:  # a measurement must never fail a run
        pass


def measure_memory(gpu_scope: str = "since the app started") -> MemoryUse:
    """This process's peak resident memory (``getrusage``; None where unavailable) and PyTorch's peak GPU
    allocation when torch is loaded and has used CUDA."""
    process = None
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        process = peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux
    except (ImportError, OSError, ValueError):
        pass
    gpu = None
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            gpu = torch.cuda.max_memory_allocated() / 2**20
    except Exception:
        pass
    return MemoryUse(process, gpu, gpu_scope)


# ------------------------------------------------------------------------------------------------ the verdict


@dataclass(frozen=True)
class SliceLead:
    """Who leads a slice among the approaches (the base-model floor excluded) and how sure that is."""

    leader: str | None
    runner_up: str | None
    gap: float | None
    sure: bool
    text: str


@dataclass(frozen=True)
class QuestionLine:
    """One question of the set: its type, source and each column's outcome ("right", "made up", "2/3 right")."""

    question_id: str
    question: str
    type: str
    source: str
    outcomes: Mapping[str, str]


@dataclass(frozen=True)
class Verdict:
    """Every number of the verdict page; :func:`render_html` draws it."""

    set_name: str
    scope: str  # whose answers: "batch run batch-20270105T101500", "every stored answer to the set"
    created_at: datetime
    questions: int  # distinct questions of the set with at least one answer
    set_questions: int  # questions in the set
    overall: Slice
    slices: Mapping[str, Sequence[Slice]]
    recommendation: Recommendation
    columns: Mapping[str, ColumnCost]
    adapter: AdapterCost | None = None
    memory: MemoryUse | None = None
    changed_documents: tuple[str, ...] = ()
    question_lines: tuple[QuestionLine, ...] = ()
    minimum: int = MIN_SLICE_ANSWERS
    exchanges: int = 0
    pipelines: tuple[str, ...] = field(default=())
    raters: LabelingReport | None = None  # human votes on these exchanges: agreement and style control

    @property
    def approaches(self) -> tuple[str, ...]:
        """The columns the verdict ranks (the base-model floor is a reference, never an approach)."""
        return tuple(p for p in self.pipelines if not _is_floor(p))

    @property
    def updated(self) -> Slice | None:
        """The slice of questions on documents changed after the adapter's training data, if the set has any."""
        return next((s for s in self.slices.get(BY_TYPE, ()) if s.value == UPDATED), None)

    @property
    def out_of_corpus(self) -> int:
        """How many out-of-corpus questions were answered."""
        return self.questions_in(BY_TYPE, OUT_OF_CORPUS)

    @property
    def trained_split(self) -> int:
        """How many questions answered are in the set's ``train`` split (the adapter may have trained on them)."""
        return self.questions_in(BY_SPLIT, TRAIN_SPLIT)

    def questions_in(self, dimension: str, value: str) -> int:
        """How many answered questions fall in one slice (0 when it is empty)."""
        return sum(s.questions for s in self.slices.get(dimension, ()) if s.value == value)

    def lead(self, piece: Slice) -> SliceLead:
        return slice_lead(piece, self.approaches)

    def slice_table(self, dimension: str) -> list[dict[str, str]]:
        """The slices of one dimension as text rows (:func:`~pipelines.evaluation.slices.slice_table`)."""
        return slice_table(self.slices.get(dimension, ()))



@dataclass(frozen=True)
class VerdictPage:
    """A verdict and where its page was written (what the Evaluation tab shows)."""

    verdict: Verdict
    html: Path


def _is_floor(pipeline: str) -> bool:
    return pipeline in BY_NAME and BY_NAME[pipeline].kind == "floor"


def _ordered(pipelines: Iterable[str]) -> tuple[str, ...]:
    """The arena's column order, unknown pipelines after it by name."""
    found = set(pipelines)
    known = [c.name for c in COLUMNS if c.name in found]
    return (*known, *sorted(found - set(known)))


def slice_lead(piece: Slice, approaches: Sequence[str]) -> SliceLead:
    """The slice's leader by key-fact accuracy: sure when its 95% interval lies above the runner-up's."""
    counted = [(p, piece.pipelines[p].accuracy) for p in approaches if p in piece.pipelines]
    shown = sorted(((p, m.interval) for p, m in counted if not m.too_few), key=lambda pair: (-pair[1].mean, pair[0]))
    if len(shown) < 2:
        fewest = min((m.n for _p, m in counted), default=0)
        return SliceLead(None, None, None, False, f"too few (n={fewest})")
    (best, a), (second, b) = shown[:2]
    gap = round(a.mean - b.mean, 9)
    if gap == 0:
        return SliceLead(None, None, 0.0, False, f"tie ({label(best)} and {label(second)} at {a.mean:.0%})")
    sure = a.low > b.high
    how = "sure: the 95% intervals do not overlap" if sure else "not sure: the 95% intervals overlap"
    return SliceLead(best, second, gap, sure, f"{label(best)} by {gap * 100:.0f} points over {label(second)} ({how})")


def _outcome(rows: Sequence[AnswerRow]) -> str:
    """One column's outcome on one question (several answers when the question was asked more than once)."""
    checked = [r for r in rows if r.correct is not None]
    if not checked:
        return "no key" if rows and rows[0].answerable else "no answer"
    if len(checked) > 1:
        return f"{sum(r.correct for r in checked)}/{len(checked)} right"
    row = checked[0]
    if row.correct:
        return "said so" if not row.answerable else "right"
    if not row.answerable:
        return "made up"
    return "declined" if row.abstained else "wrong"


def _question_lines(answers: Sequence[AnswerRow], items: Sequence[QuestionItem]) -> tuple[QuestionLine, ...]:
    by_id = {item.id or item.question: item for item in items}
    grouped: dict[str, dict[str, list[AnswerRow]]] = defaultdict(lambda: defaultdict(list))
    for row in answers:
        grouped[row.question_id][row.pipeline].append(row)
    order = {key: i for i, key in enumerate(by_id)}
    lines = []
    for question_id in sorted(grouped, key=lambda key: order.get(key, len(order))):
        per_pipeline = grouped[question_id]
        first = next(iter(per_pipeline.values()))[0]
        item = by_id.get(question_id)
        lines.append(QuestionLine(question_id, item.question if item else question_id, first.type, first.source,
                                  {p: _outcome(rows) for p, rows in per_pipeline.items()}))
    return tuple(lines)


def verdict_from_exchanges(
    exchanges: Sequence[Mapping], items: Sequence[QuestionItem], *, set_name: str, scope: str = "",
    scores: Iterable[Mapping] = (), votes: Mapping[str, str] | None = None, changed: Iterable[str] = (),
    adapter: AdapterCost | None = None, memory: MemoryUse | None = None, created_at: datetime | None = None,
    minimum: int = MIN_SLICE_ANSWERS, rounds: int = 200,
) -> Verdict:
    """The verdict from stored exchanges (as :meth:`FeedbackStore.exchange` returns them) and the set's items.

    ``changed``: documents added or changed after the adapter's data (:func:`changed_documents`), which make
    their questions ``updated``; ``rounds``: bootstrap rounds of the vote intervals."""
    changed = tuple(sorted(set(changed)))
    answers, votes_rows = rows_from_exchanges(exchanges, items, scores=scores, votes=votes, updated_sources=changed)
    counted = {row.exchange_id for row in answers} | {vote.exchange_id for vote in votes_rows}
    columns = column_costs(e for e in exchanges if e["id"] in counted)
    whole = overall(answers, votes_rows, minimum=minimum, rounds=rounds)
    sliced = all_slices(answers, votes_rows, minimum=minimum, rounds=rounds)
    approaches = [p for p in whole.pipelines if not _is_floor(p)]
    # Where each approach leads, by every dimension but the split: "better on the questions it trained on" is
    # no reason to pick it (the page flags those questions and shows the held-out ones apart).
    advice = recommendation(
        whole, [piece for dimension, pieces in sliced.items() if dimension != BY_SPLIT for piece in pieces],
        latency_s={p: c.answer_s for p, c in columns.items() if c.answer_s is not None and p in approaches},
        training_s=adapter.training_s if adapter else None, minimum=MIN_VERDICT_ANSWERS)
    return Verdict(
        set_name=set_name, scope=scope or "every stored answer to the set",
        created_at=created_at or datetime.now(UTC), questions=len({row.question_id for row in answers}),
        set_questions=len(items), overall=whole, slices=sliced, recommendation=advice, columns=columns,
        adapter=adapter, memory=memory, changed_documents=changed, question_lines=_question_lines(answers, items),
        minimum=minimum, exchanges=len(counted), pipelines=_ordered(whole.pipelines),
    )


def build_verdict(
    store: FeedbackStore, items: Sequence[QuestionItem], *, set_name: str, scope: str = "",
    exchange_ids: Sequence[str] | None = None, adapter_folder: Path | None = None, corpus_dir: Path | None = None,
    memory: MemoryUse | None = None, created_at: datetime | None = None, minimum: int = MIN_SLICE_ANSWERS,
    rounds: int = 200,
) -> Verdict:
    """The verdict from the feedback store: the given exchanges (a batch run's), else every exchange that was
    scored or voted on (as :func:`~pipelines.evaluation.slices.rows_from_store`). ``adapter_folder``: the
    active adapter (its training time, size and data); ``corpus_dir``: the documents, checked against it."""
    scores = store.scores()
    votes = {row["exchange_id"]: row["choice"] for row in store.rated_exchanges()}
    given = exchange_ids is not None
    if exchange_ids is None:
        exchange_ids = list(dict.fromkeys([*(row["exchange_id"] for row in scores), *votes]))
    wanted = set(exchange_ids)
    exchanges = sorted((found for found in (store.exchange(i) for i in wanted) if found is not None),
                       key=lambda exchange: (exchange["created_at"], exchange["id"]))
    if not scope:
        scope = f"{len(wanted)} given exchanges" if given else "every stored answer to the set"
    verdict = verdict_from_exchanges(
        exchanges, items, set_name=set_name, scope=scope, scores=[s for s in scores if s["exchange_id"] in wanted],
        votes=votes, changed=changed_documents(corpus_dir, adapter_folder), adapter=adapter_cost(adapter_folder),
        memory=memory, created_at=created_at, minimum=minimum, rounds=rounds)
    if not wanted.intersection(votes):
        return verdict
    return replace(verdict, raters=labeling_report(store, exchange_ids=wanted, agreement_rounds=500,
                                                   style_rounds=rounds))


def write_verdict(verdict: Verdict, folder: Path) -> Path:
    """``verdict.html`` and ``verdict.md`` into ``folder`` (made if missing); the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VERDICT_MD).write_text(render_markdown(verdict), encoding="utf-8")
    page = folder / VERDICT_HTML
    page.write_text(render_html(verdict), encoding="utf-8")
    return page


# ------------------------------------------------------------------------------------------------- as words


def _seconds(value: float | None) -> str:
    if value is None:
        return "not measured"
    if value < 60:
        return f"{value:.2f} s"
    if value < 3600:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _megabytes(value: float | None) -> str:
    return "not measured" if value is None else f"{value:,.0f} MB" if value >= 100 else f"{value:.1f} MB"


def _case_title(advice: Recommendation) -> str:
    if advice.case == CLEAR:
        return f"Recommended: {label(advice.best or '')}"
    if advice.case == CLOSE:
        return "Close: no approach is clearly better"
    return "Too little evidence for a recommendation"


def _abstention_cells(verdict: Verdict, pipeline: str) -> tuple[str, str, str]:
    """(said so, made up, declined answerable) for a column, as text: each count of the column's out-of-corpus
    answers ("1 of 2"), then the share or "too few": a handful of such questions is common, and the counts are
    what a reader can check against the per-question table even when a share would be noise."""
    numbers = verdict.overall.pipelines[pipeline]
    said = numbers.abstained
    if said.too_few:
        made = f"too few (n={said.n})"
    else:
        i = said.interval
        made = f"{1 - i.mean:.0%} [{1 - i.high:.0%}, {1 - i.low:.0%}] (n={i.n})"
    if said.n and said.count is not None:
        return (f"{said.count} of {said.n} · {said}", f"{said.n - said.count} of {said.n} · {made}",
                str(numbers.over_abstained))
    return str(said), made, str(numbers.over_abstained)


def _updated_sentence(verdict: Verdict) -> str:
    """Why there is no knowledge-update table, in one sentence."""
    if verdict.changed_documents:
        return (f"No updated questions in this set: {len(verdict.changed_documents)} document(s) changed after the "
                f"adapter's training data ({', '.join(verdict.changed_documents)}), but no question of the set is on "
                "them. Add questions on the changed facts to see whether the fine-tuned column still answers the "
                "old fact.")
    if verdict.adapter is None:
        return ("No updated questions in this set: there is no adapter folder here to compare the documents with, so "
                "no question could be found to be on a changed document.")
    return ("No updated questions in this set: no document was added or changed after the adapter's training data. "
            "Change a document (or add one), ask about the new fact, and run the set again to see RAG follow the "
            "update while the fine-tuned column keeps the old fact until it is trained again.")


def _memory_text(memory: MemoryUse | None) -> tuple[str, str]:
    if memory is None:
        return "not measured", "not measured"
    gpu = (f"{_megabytes(memory.gpu_peak_mb)} ({memory.gpu_scope})" if memory.gpu_peak_mb is not None
           else "not measured (no CUDA in this process)")
    return _megabytes(memory.process_peak_mb), gpu


def render_markdown(verdict: Verdict) -> str:
    """The verdict in short, as Markdown (the command line's output and the Evaluation tab's summary)."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"# Verdict: {cell(verdict.set_name)}", "",
             f"{verdict.created_at:%Y-%m-%d %H:%M} UTC · {verdict.questions} of {verdict.set_questions} questions · "
             f"{verdict.exchanges} exchanges · {verdict.scope}", "",
             f"**{_case_title(verdict.recommendation)}.** {verdict.recommendation.text}", "",
             "| approach | key-fact accuracy (95% interval) | token F1 | mean answer time |", "|---|---|---|---|"]
    for pipeline in verdict.pipelines:
        numbers, cost = verdict.overall.pipelines[pipeline], verdict.columns.get(pipeline)
        lines.append(f"| {cell(label(pipeline))} | {cell(numbers.accuracy)} | {cell(numbers.f1)} | "
                     f"{_seconds(cost.answer_s if cost else None)} |")
    if verdict.out_of_corpus:
        lines += ["", "Out-of-corpus questions (the right answer says the documents do not say):", "",
                  "| approach | said so | made up |", "|---|---|---|"]
        lines += [f"| {cell(label(p))} | {cell(_abstention_cells(verdict, p)[0])} | "
                  f"{cell(_abstention_cells(verdict, p)[1])} |" for p in verdict.pipelines]
    else:
        lines += ["", "No out-of-corpus questions in this set: made-up answers were not measured."]
    if verdict.raters is not None:
        lines += ["", *(sentence for sentence in _raters_sentences(verdict.raters) if sentence)]
    updated = verdict.updated
    if updated is None:
        lines += ["", _updated_sentence(verdict)]
    else:
        lines += ["", f"Questions on updated documents ({updated.questions}): " + "; ".join(
            f"{label(p)} {updated.pipelines[p].accuracy}" for p in verdict.pipelines if p in updated.pipelines)]
    return "\n".join(lines) + "\n"


def summary_markdown(verdict: Verdict) -> str:
    """The recommendation with its heading and scope: a few lines for the Evaluation tab."""
    return (f"### Verdict: {_case_title(verdict.recommendation)}\n\n{verdict.recommendation.text}\n\n"
            f"_{verdict.questions} of {verdict.set_questions} questions of {verdict.set_name} · {verdict.scope} · "
            f"{verdict.created_at:%Y-%m-%d %H:%M} UTC. The whole report: `{VERDICT_HTML}`._")


# ---------------------------------------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2433;max-width:1100px;
margin:2rem auto;padding:0 1rem;background:#fff}
h1{font-size:1.7rem;margin:0 0 .2rem}h2{font-size:1.25rem;margin:2.2rem 0 .5rem;border-bottom:1px solid #dde3ee;
padding-bottom:.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.meta{color:#5b6577;margin:0 0 1.2rem}
.advice{border-left:6px solid #8a94a6;background:#f4f6fa;padding:.8rem 1rem;border-radius:4px}
.advice.clear{border-color:#1f9d55;background:#eefaf3}.advice.close{border-color:#d69e2e;background:#fdf8ec}
.advice strong{display:block;font-size:1.1rem;margin-bottom:.3rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;width:100%}
th,td{border:1px solid #dde3ee;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f4f6fa;font-weight:600}td.num{white-space:nowrap}
.few{color:#8a94a6;font-style:italic}.sure{color:#1f7a45;font-weight:600}.unsure{color:#8a6d1f}
.right,.said{color:#1f7a45}.wrong,.made{color:#b83232;font-weight:600}.declined{color:#8a6d1f}
.note{color:#5b6577;font-size:.9rem}svg.bar{vertical-align:middle}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bar(measure: Measure, width: int = 220) -> str:
    """The share as a bar from 0 to 100%, its 95% interval as a whisker; nothing when there are too few."""
    if measure.too_few:
        return ""
    i = measure.interval

    def x(value: float) -> float:
        return round(1 + value * width, 1)

    return (f'<svg class="bar" width="{width + 2}" height="18" viewBox="0 0 {width + 2} 18" role="img" '
            f'aria-label="{_e(measure)}"><rect x="1" y="4" width="{width}" height="10" fill="#e8ecf4"/>'
            f'<rect x="1" y="4" width="{x(i.mean) - 1}" height="10" fill="#5b82e8"/>'
            f'<line x1="{x(i.low)}" x2="{x(i.high)}" y1="9" y2="9" stroke="#172443" stroke-width="1.6"/>'
            f'<line x1="{x(i.low)}" x2="{x(i.low)}" y1="4" y2="14" stroke="#172443" stroke-width="1.6"/>'
            f'<line x1="{x(i.high)}" x2="{x(i.high)}" y1="4" y2="14" stroke="#172443" stroke-width="1.6"/></svg>')


def _measure(measure: Measure) -> str:
    return f'<span class="few">{_e(measure)}</span>' if measure.too_few else _e(measure)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose header is text (escaped here) and whose cells are HTML already escaped by the caller."""
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _accuracy_section(verdict: Verdict) -> str:
    rows = []
    for pipeline in verdict.pipelines:
        numbers = verdict.overall.pipelines[pipeline]
        name = _e(label(pipeline)) + (' <span class="note">(floor: no retrieval, no adapter)</span>'
                                      if _is_floor(pipeline) else "")
        rows.append([name, _bar(numbers.accuracy), _measure(numbers.accuracy), _measure(numbers.f1)])
    if not rows:
        return "<p>No stored answer to a question of this set: run the set, then build the verdict again.</p>"
    return (_table(["approach", "key-fact accuracy", "right answers (95% interval)", "token F1 (mean, 95% interval)"],
                   rows)
            + '<p class="note">Right: the answer holds the question\'s key fact and does not decline; on an '
              "out-of-corpus question, right means it said the documents do not say. Bars run from 0 to 100%; the "
              "whisker is the 95% Wilson interval.</p>" + _trained_split_note(verdict))


def _trained_split_note(verdict: Verdict) -> str:
    """A warning when some questions are in the set's train split: fine-tuning on the set may have seen them."""
    if not verdict.trained_split:
        return ""
    return (f'<p class="note"><strong>{verdict.trained_split} of {verdict.questions} questions are in the set\'s '
            "train split</strong> (or have no split), which <code>python -m pipelines.training</code> trains on "
            "with the documents: the fine-tuned columns may have seen their answers. The <em>By split</em> table "
            "below gives the held-out questions alone.</p>")


def _slices_section(verdict: Verdict) -> str:
    parts = []
    for dimension in DIMENSIONS:
        pieces = verdict.slices.get(dimension, [])
        if not pieces:
            continue
        voted = any(piece.votes.n for piece in pieces)
        head = ["slice", "questions", *(label(p) for p in verdict.pipelines), "who leads, how sure"]
        if voted:
            head.append("votes (Bradley-Terry, 95% interval)")
        rows = []
        for piece in pieces:
            lead = verdict.lead(piece)
            css = "sure" if lead.sure else "few" if lead.leader is None else "unsure"
            row = [_e(describe(piece.dimension, piece.value)), str(piece.questions)]
            row += [_measure(piece.pipelines[p].accuracy) if p in piece.pipelines else '<span class="few">-</span>'
                    for p in verdict.pipelines]
            row.append(f'<span class="{css}">{_e(lead.text)}</span>')
            if voted:
                row.append(_measure_votes(piece))
            rows.append(row)
        parts.append(f"<h3>By {_e(dimension)}</h3>" + _table(head, rows))
    if not parts:
        return "<p>No slices: no stored answer to a question of this set.</p>"
    return "".join(parts) + (f'<p class="note">Key-fact accuracy per slice. A slice with fewer than {verdict.minimum} '
                             "answers per approach shows \u201ctoo few\u201d instead of a number. The base-model floor "
                             "never leads.</p>")


def _measure_votes(piece: Slice) -> str:
    text = str(piece.votes)
    return f'<span class="few">{_e(text)}</span>' if piece.votes.ratings is None else _e(text)


def _honesty_section(verdict: Verdict) -> str:
    if not verdict.out_of_corpus:
        answerable = [[_e(label(p)), _measure(verdict.overall.pipelines[p].over_abstained)] for p in verdict.pipelines]
        return ("<p>No out-of-corpus questions in this set: made-up answers were not measured. Add questions no "
                'document answers (<code>"answerable": false</code> in the set) to measure them.</p>'
                + _table(["approach", "declined answerable questions"], answerable))
    rows = []
    for pipeline in verdict.pipelines:
        said, made, _declined = _abstention_cells(verdict, pipeline)
        numbers = verdict.overall.pipelines[pipeline]
        few = numbers.abstained.too_few
        rows.append([_e(label(pipeline)), f'<span class="{"few" if few else "said"}">{_e(said)}</span>',
                     f'<span class="{"few" if few else "made"}">{_e(made)}</span>', _measure(numbers.over_abstained)])
    return (f"<p>{verdict.out_of_corpus} question(s) no document answers. The right answer says the documents do not "
            "say; any other answer is made up (offline rules on the answer text).</p>"
            + _table(["approach", "said the documents do not say", "made something up",
                      "declined answerable questions"], rows))


def _update_section(verdict: Verdict) -> str:
    updated = verdict.updated
    if updated is None:
        return f"<p>{_e(_updated_sentence(verdict))}</p>"
    rows = [[_e(label(p)), _bar(updated.pipelines[p].accuracy), _measure(updated.pipelines[p].accuracy),
             _measure(verdict.overall.pipelines[p].accuracy)] for p in verdict.pipelines if p in updated.pipelines]
    return (f"<p>{updated.questions} question(s) on documents added or changed after the adapter's training data "
            f"({_e(', '.join(verdict.changed_documents) or 'as the set declares')}). RAG reads the new text; the "
            "fine-tuned column only knows what it was trained on.</p>"
            + _table(["approach", "accuracy on updated facts", "right answers (95% interval)", "on every question"],
                     rows))


def _costs_section(verdict: Verdict) -> str:
    rows = []
    for pipeline in verdict.pipelines:
        cost = verdict.columns.get(pipeline)
        if cost is None:
            rows.append([_e(label(pipeline)), "0", "not measured", "not measured", "no retrieval"])
            continue
        retrieval = (f"{_seconds(cost.retrieval_s)} (n={cost.retrievals})" if cost.retrievals else "no retrieval")
        rows.append([_e(label(pipeline)), str(cost.answers), _e(_seconds(cost.answer_s)),
                     _e(_seconds(cost.first_token_s)), _e(retrieval)])
    parts = [_table(["approach", "timed answers", "mean answer time", "mean time to first token",
                     "mean retrieval time"], rows),
             '<p class="note">Measured when these answers were given (their stored timings): seconds from the '
             "question to the end of each column's answer. The columns decode together in one batch, so a column's "
             "time includes the shared batch.</p>"]
    adapter = verdict.adapter
    if adapter is None:
        parts.append("<p>Fine-tuning cost: not measured (no adapter folder here: a remote server's adapter, or none "
                     "loaded).</p>")
    else:
        trained = _seconds(adapter.training_s) + (f" on {adapter.device}" if adapter.device else "")
        facts = [("adapter", adapter.name), ("training time", trained),
                 ("adapter size", _megabytes(adapter.size_bytes / 2**20)),
                 ("training examples", "not recorded" if adapter.examples is None else f"{adapter.examples:,}"),
                 ("training steps", "not recorded" if adapter.steps is None else f"{adapter.steps:,}"),
                 ("quantization", adapter.quantization or "not recorded"),
                 ("peak GPU memory in training", _megabytes(adapter.peak_gpu_memory_mb) if adapter.peak_gpu_memory_mb
                  is not None else "not measured (not a CUDA run)"),
                 ("trained at", adapter.created_at or "not recorded")]
        parts.append("<h3>Fine-tuning (the active adapter)</h3>"
                     + _table(["", "measured"], [[_e(k), _e(v)] for k, v in facts]))
    process, gpu = _memory_text(verdict.memory)
    parts.append("<h3>Memory</h3>" + _table(["", "measured"], [
        ["app process, peak resident", _e(process)], ["GPU, PyTorch peak allocation", _e(gpu)]]))
    parts.append('<p class="note">The process peak covers the model, the app and the index client since the app '
                 "started; a separate Weaviate server or remote generation server is not counted.</p>")
    return "".join(parts)


def _raters_sentences(raters: LabelingReport | None) -> tuple[str, str]:
    """Agreement and style control, each as one plain sentence (the page and the Markdown share them)."""
    if raters is None or not raters.style.battles:
        return ("No human votes on these answers yet: build a rating queue from this run's answers in the Rating "
                "queue tab, and the raters' agreement and style-controlled ratings appear here.", "")
    found = raters.agreement
    if not found.items:
        agreement = ("Agreement between raters: no answer pair has two votes yet (a rating queue with two or more "
                     "raters per item measures it).")
    else:
        alpha = "undefined (every vote alike)" if found.alpha is None else f"{found.alpha:.2f}"
        if found.alpha is not None and found.alpha_low is not None:
            alpha += f" [{found.alpha_low:.2f}, {found.alpha_high:.2f}]"
        agreement = (f"Agreement between raters over {found.items} answer pairs with two or more votes: "
                     f"{found.pairwise:.0%} of rater pairs chose alike; Krippendorff's alpha {alpha}.")
    style = raters.style
    if style.winner_changed:
        held = (f"Style control ({style.battles} comparisons): the winner changes once answer length, citations "
                f"and declining are held equal: {label(style.plain_winner)} leads on plain votes, "
                f"{label(style.winner)} with style held equal.")
    else:
        held = (f"Style control ({style.battles} comparisons): {label(style.winner)} leads with and without answer "
                "length, citations and declining held equal.")
    return agreement, held


def _raters_section(verdict: Verdict) -> str:
    agreement, held = _raters_sentences(verdict.raters)
    if verdict.raters is None or not held:
        return f"<p>{_e(agreement)}</p>"
    style = verdict.raters.style
    rows = [[_e(label(p)), _e(f"{style.plain.get(p, float('nan')):.0f}"), _e(f"{rating:.0f}"),
             _e(f"{style.intervals[p][0]:.0f} – {style.intervals[p][1]:.0f}" if p in style.intervals else "-")]
            for p, rating in sorted(style.ratings.items(), key=lambda item: -item[1])]
    coefficients = "; ".join(f"{name} {value:+.2f}" for name, value in style.coefficients.items())
    return (f"<p>{_e(agreement)}</p><p>{_e(held)}</p>"
            + _table(["approach", "rating (plain votes)", "rating, style held equal", "95% interval"], rows)
            + (f'<p class="note">Style coefficients (log-odds per standard deviation; positive: raters prefer '
               f"more of it): {_e(coefficients)}.</p>" if coefficients else ""))


_OUTCOME_CSS = {"right": "right", "said so": "said", "wrong": "wrong", "made up": "made", "declined": "declined"}


def _questions_section(verdict: Verdict) -> str:
    lines = verdict.question_lines
    if not lines:
        return "<p>No questions answered.</p>"
    rows = []
    for line in lines[:MAX_QUESTION_ROWS]:
        outcomes = [line.outcomes.get(p, "-") for p in verdict.pipelines]
        rows.append([_e(line.question), _e(line.type), _e(line.source or "-"),
                     *(f'<span class="{_OUTCOME_CSS.get(o, "few")}">{_e(o)}</span>' for o in outcomes)])
    more = (f'<p class="note">The first {MAX_QUESTION_ROWS} of {len(lines)} questions; every answer counts above.</p>'
            if len(lines) > MAX_QUESTION_ROWS else "")
    return _table(["question", "type", "source", *(label(p) for p in verdict.pipelines)], rows) + more


def render_html(verdict: Verdict) -> str:
    """The verdict as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets."""
    advice = verdict.recommendation
    title = f"Verdict: RAG vs fine-tuning on {verdict.set_name}"
    meta = (f"{verdict.created_at:%Y-%m-%d %H:%M} UTC · {verdict.questions} of {verdict.set_questions} questions "
            f"answered · {verdict.exchanges} exchanges · {verdict.scope}")
    sections = [
        ("Accuracy per approach", _accuracy_section(verdict)),
        ("Where each approach wins", _slices_section(verdict)),
        ("Questions the documents cannot answer", _honesty_section(verdict)),
        ("Knowledge update", _update_section(verdict)),
        ("Human raters", _raters_section(verdict)),
        ("Costs", _costs_section(verdict)),
        ("Every question", _questions_section(verdict)),
    ]
    body = "".join(f"<section><h2>{_e(heading)}</h2>{content}</section>" for heading, content in sections)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body><header><h1>{_e(title)}</h1>"
            f'<p class="meta">{_e(meta)}</p></header>'
            f'<div class="advice {_e(advice.case)}" id="recommendation"><strong>{_e(_case_title(advice))}</strong>'
            f"{_e(advice.text)}</div>{body}"
            '<footer class="note"><p>Written by rules from the stored answers, no language model. Intervals are 95% '
            f"(Wilson for shares). A recommendation needs at least {MIN_VERDICT_ANSWERS} answers per approach; it "
            "calls a winner only when the best approach's interval lies above the runner-up's.</p></footer>"
            "</body></html>\n")
