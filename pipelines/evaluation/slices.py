"""Where each approach wins: accuracy, votes and ragas means per slice of the question set.

A slice is the answers (and votes) that share one value of a dimension: the question's source document,
its type (:mod:`pipelines.common.question_types`), whether retrieval found its passage, the adapter
version active when it was answered, or its split in the set (a ``train`` question may be in the adapter's
training pairs, so the fine-tuned columns are only tested fairly on the others). Every key is a property of
the *exchange* (the question as asked once), so every column of an exchange lands in the same slice:
"retrieval missed" holds the fine-tuned column's answers to the questions where the RAG column's retrieval
missed, which is the comparison that matters.

Per slice and pipeline: key-fact accuracy (right by the key and :mod:`pipelines.common.abstention`'s rules;
an out-of-corpus question is answered right by abstaining) with its 95% Wilson interval, token F1, the
share of out-of-corpus answers that abstained (the rest are made up), the share of answerable ones that
abstained anyway, and each ragas metric's mean; per slice, the votes' Bradley-Terry ratings and win rates
with intervals. A number over fewer than ``minimum`` answers (:data:`MIN_SLICE_ANSWERS`, 5) or votes is not
shown: it reads "too few (n=3)".

The input is plain rows (:class:`AnswerRow`, :class:`VoteRow`) so the math is testable on a small fixed set;
:func:`rows_from_store` builds them from the feedback store and the question set.

Example::

    answers, votes = rows_from_store(store, load_questions(Path("assets/questions.jsonl")))
    for piece in slice_by(answers, votes, BY_TYPE):
        print(piece.value, piece.pipelines["rag"].accuracy, piece.votes)   # number 80% [49%, 94%] (n=10) ...
    overall(answers, votes).pipelines["finetuned"].accuracy.interval        # Interval(mean=..., n=...)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pipelines.common.abstention import abstains, answer_correct
from pipelines.common.columns import RAG, RAG_FINETUNED, label
from pipelines.common.correctness import (
    CORRECTNESS_METRICS,
    Interval,
    mean_interval,
    proportion_interval,
    token_f1,
)
from pipelines.common.question_types import (
    LOOKUP,
    MULTI_FACT,
    NUMBER,
    OUT_OF_CORPUS,
    UPDATED,
    source_list,
    tag_question,
)
from pipelines.common.questions import TRAIN_SPLIT, QuestionItem, normalise_question
from pipelines.feedback.leaderboard import leaderboard, outcomes_from_vote
from pipelines.feedback.store import FeedbackStore

MIN_SLICE_ANSWERS = 5  # below this many answers (or votes) a slice's number is noise: "too few (n=…)"

ALL = "all"
BY_DOCUMENT = "document"
BY_TYPE = "question type"
BY_RETRIEVAL = "retrieval"
BY_ADAPTER = "adapter"
BY_SPLIT = "split"
DIMENSIONS: tuple[str, ...] = (BY_DOCUMENT, BY_TYPE, BY_RETRIEVAL, BY_ADAPTER, BY_SPLIT)

HIT, MISS, NO_RETRIEVAL = "hit", "miss", "no retrieval"
NO_SOURCE, NO_ADAPTER, NO_SPLIT, NOT_TRAINED = "no source", "no adapter", "no split", "not trained on"
RETRIEVING_COLUMNS: tuple[str, ...] = (RAG.name, RAG_FINETUNED.name)  # the columns whose contexts were retrieved


@dataclass(frozen=True)
class AnswerRow:
    """One pipeline's answer to one asked question, with the exchange's slice keys.

    ``correct``: right by the key and abstention rules (None: no key to check); ``hit``: the exchange's
    retrieval found every source document (None: no retrieving column, or the question names no source);
    ``adapter``: the adapter id(s) active in the exchange ("" for none); ``split``: the question's split in its
    set (``train`` questions may be in the adapter's training pairs, so only the others test it fairly);
    ``abstained``: the answer says the documents do not say (None: an empty answer); ``metrics``: ragas values.
    """

    exchange_id: str
    question_id: str
    pipeline: str
    source: str = ""
    type: str = LOOKUP
    hit: bool | None = None
    adapter: str = ""
    split: str = ""
    correct: bool | None = None
    f1: float | None = None
    abstained: bool | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return self.type != OUT_OF_CORPUS


@dataclass(frozen=True)
class VoteRow:
    """An exchange's latest vote, with its columns (in order) and the same slice keys as its answers."""

    exchange_id: str
    question_id: str
    choice: str
    pipelines: tuple[str, ...]
    source: str = ""
    type: str = LOOKUP
    hit: bool | None = None
    adapter: str = ""
    split: str = ""


@dataclass(frozen=True)
class Measure:
    """A number for a slice with its 95% interval, or ``None`` when it covers fewer answers than the minimum."""

    interval: Interval | None
    n: int
    percent: bool = True  # a share (shown as %) or a mean score (shown as 0.00)
    # For a share: how many of the n were true, known even when too few for a share (the verdict shows the
    # count of abstained and made-up answers on a handful of out-of-corpus questions); None for a mean.
    count: int | None = None

    @property
    def too_few(self) -> bool:
        return self.interval is None

    def __str__(self) -> str:
        if self.interval is None:
            return f"too few (n={self.n})"
        if self.percent:
            return str(self.interval)
        i = self.interval
        return f"{i.mean:.2f} [{i.low:.2f}, {i.high:.2f}] (n={i.n})"


@dataclass(frozen=True)
class Rating:
    """A pipeline's Bradley-Terry rating (with its 95% bootstrap interval) and win rate (Wilson, ties half)."""

    pipeline: str
    rating: float
    low: float
    high: float
    win_rate: Interval

    def __str__(self) -> str:
        return f"{label(self.pipeline)} {self.rating:.0f} [{self.low:.0f}, {self.high:.0f}], wins {self.win_rate}"


@dataclass(frozen=True)
class VoteSlice:
    """The slice's votes: ``ratings`` strongest first, or None when there are fewer votes than the minimum."""

    n: int
    ratings: tuple[Rating, ...] | None

    def __str__(self) -> str:
        if self.ratings is None:
            return f"too few (n={self.n})"
        return "; ".join(str(r) for r in self.ratings)


@dataclass(frozen=True)
class PipelineSlice:
    """One pipeline's numbers in a slice. ``abstained``: of its out-of-corpus answers, the share that said the
    documents do not say (the rest made something up); ``over_abstained``: of its answerable ones, the share
    that abstained anyway."""

    pipeline: str
    accuracy: Measure
    f1: Measure
    abstained: Measure
    over_abstained: Measure
    metrics: Mapping[str, Measure]


@dataclass(frozen=True)
class Slice:
    dimension: str
    value: str
    questions: int  # distinct questions in the slice
    pipelines: Mapping[str, PipelineSlice]
    votes: VoteSlice

    @property
    def place(self) -> str:
        """The slice in words, for sentences: "number questions", "questions on travel_policy.txt"."""
        return describe(self.dimension, self.value)


_TYPE_PLACES = {LOOKUP: "lookup questions", NUMBER: "number questions", MULTI_FACT: "multi-fact questions",
                UPDATED: "questions on updated documents", OUT_OF_CORPUS: "questions the documents cannot answer"}
_RETRIEVAL_PLACES = {HIT: "questions where retrieval found the passage",
                     MISS: "questions where retrieval missed the passage",
                     NO_RETRIEVAL: "questions answered without retrieval"}


def describe(dimension: str, value: str) -> str:
    """A slice in words (the recommendation's sentences and the report's headings)."""
    if dimension == BY_TYPE:
        return _TYPE_PLACES.get(value, f"{value} questions")
    if dimension == BY_RETRIEVAL:
        return _RETRIEVAL_PLACES.get(value, value)
    if dimension == BY_DOCUMENT:
        return "questions with no source document" if value == NO_SOURCE else f"questions on {value}"
    if dimension == BY_ADAPTER:
        return "answers without an adapter" if value == NO_ADAPTER else f"answers with adapter {value}"
    if dimension == BY_SPLIT:
        if value == TRAIN_SPLIT:
            return "questions of the train split, or with none (the adapter may have trained on them)"
        if value in (NO_SPLIT, NOT_TRAINED):
            return "questions with no split" if value == NO_SPLIT else "questions never trained on (out-of-corpus)"
        return f"questions of the {value} split (held out)"
    return "all questions"


def split_value(item: QuestionItem) -> str:
    """A question's slice on the split dimension: ``train`` when the training command may train on it (the
    train split, or no split), else its own split (``test``, ``dev``...), or :data:`NOT_TRAINED` for an
    out-of-corpus question of the train split or of none (training leaves those out)."""
    if item.trainable:
        return TRAIN_SPLIT
    return item.split if item.split and item.split != TRAIN_SPLIT else NOT_TRAINED


def slice_values(row: AnswerRow | VoteRow, dimension: str) -> tuple[str, ...]:
    """The slice(s) a row belongs to on a dimension: a question on two documents is in both documents' slices."""
    if dimension == BY_DOCUMENT:
        return source_list(row.source) or (NO_SOURCE,)
    if dimension == BY_TYPE:
        return (row.type,)
    if dimension == BY_RETRIEVAL:
        return (NO_RETRIEVAL if row.hit is None else HIT if row.hit else MISS,)
    if dimension == BY_ADAPTER:
        return (row.adapter or NO_ADAPTER,)
    if dimension == BY_SPLIT:
        return (row.split or NO_SPLIT,)
    if dimension == ALL:
        return (ALL,)
    raise ValueError(f"Unknown slice dimension {dimension!r}; the dimensions are {', '.join(DIMENSIONS)}")


def _share(values: Sequence[bool], minimum: int) -> Measure:
    n = len(values)
    count = sum(values)
    return Measure(proportion_interval(count, n) if n >= max(minimum, 1) else None, n, count=count)


def _mean(values: Sequence[float], minimum: int) -> Measure:
    n = len(values)
    return Measure(mean_interval(values) if n >= max(minimum, 1) else None, n, percent=False)


def _pipeline_slice(pipeline: str, rows: Sequence[AnswerRow], minimum: int) -> PipelineSlice:
    metric_values: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for metric, value in row.metrics.items():
            metric_values[metric].append(value)
    return PipelineSlice(
        pipeline,
        accuracy=_share([r.correct for r in rows if r.correct is not None], minimum),
        f1=_mean([r.f1 for r in rows if r.f1 is not None], minimum),
        abstained=_share([r.abstained for r in rows if not r.answerable and r.abstained is not None], minimum),
        over_abstained=_share([r.abstained for r in rows if r.answerable and r.abstained is not None], minimum),
        metrics={metric: _mean(values, minimum) for metric, values in sorted(metric_values.items())},
    )


def _vote_slice(votes: Sequence[VoteRow], minimum: int, rounds: int, seed: int) -> VoteSlice:
    if len(votes) < max(minimum, 1):
        return VoteSlice(len(votes), None)
    outcomes = [o for v in votes for o in outcomes_from_vote(v.choice, list(v.pipelines))]
    ratings = tuple(
        Rating(row.pipeline, row.rating, row.rating_low, row.rating_high,
               proportion_interval(row.wins + 0.5 * row.ties, row.votes))
        for row in leaderboard(outcomes, rounds=rounds, seed=seed)
    )
    return VoteSlice(len(votes), ratings)


def _build(dimension: str, value: str, answers: Sequence[AnswerRow], votes: Sequence[VoteRow], minimum: int,
           rounds: int, seed: int) -> Slice:
    by_pipeline: dict[str, list[AnswerRow]] = defaultdict(list)
    for row in answers:
        by_pipeline[row.pipeline].append(row)
    return Slice(dimension, value, len({r.question_id for r in answers} | {v.question_id for v in votes}),
                 {p: _pipeline_slice(p, rows, minimum) for p, rows in by_pipeline.items()},
                 _vote_slice(votes, minimum, rounds, seed))


def slice_by(answers: Iterable[AnswerRow], votes: Iterable[VoteRow], dimension: str, *,
             minimum: int = MIN_SLICE_ANSWERS, rounds: int = 200, seed: int = 0) -> list[Slice]:
    """One :class:`Slice` per value of the dimension that any answer or vote has, sorted by value.

    ``rounds``: bootstrap rounds of each slice's Bradley-Terry interval (fewer is faster, coarser)."""
    grouped_answers: dict[str, list[AnswerRow]] = defaultdict(list)
    grouped_votes: dict[str, list[VoteRow]] = defaultdict(list)
    for row in answers:
        for value in slice_values(row, dimension):
            grouped_answers[value].append(row)
    for vote in votes:
        for value in slice_values(vote, dimension):
            grouped_votes[value].append(vote)
    return [_build(dimension, value, grouped_answers.get(value, []), grouped_votes.get(value, []), minimum, rounds,
                   seed) for value in sorted(grouped_answers.keys() | grouped_votes.keys())]


def overall(answers: Iterable[AnswerRow], votes: Iterable[VoteRow], *, minimum: int = MIN_SLICE_ANSWERS,
            rounds: int = 200, seed: int = 0) -> Slice:
    """Every answer and vote as one slice (dimension and value ``all``): the per-approach headline numbers."""
    return _build(ALL, ALL, list(answers), list(votes), minimum, rounds, seed)


def all_slices(answers: Sequence[AnswerRow], votes: Sequence[VoteRow], *, minimum: int = MIN_SLICE_ANSWERS,
               rounds: int = 200, seed: int = 0) -> dict[str, list[Slice]]:
    """dimension -> its slices, for every dimension in :data:`DIMENSIONS`."""
    return {dimension: slice_by(answers, votes, dimension, minimum=minimum, rounds=rounds, seed=seed)
            for dimension in DIMENSIONS}


def slice_table(slices: Iterable[Slice]) -> list[dict[str, str]]:
    """One row per slice and pipeline, every number as text ("too few (n=3)" included): a table to show."""
    rows = []
    for piece in slices:
        for pipeline, numbers in sorted(piece.pipelines.items()):
            rows.append({"dimension": piece.dimension, "slice": piece.value, "pipeline": label(pipeline),
                         "accuracy": str(numbers.accuracy), "token F1": str(numbers.f1),
                         "abstained (out-of-corpus)": str(numbers.abstained),
                         "abstained (answerable)": str(numbers.over_abstained), "votes": str(piece.votes)})
    return rows


def exchange_hit(answers: Mapping[str, Mapping], sources: Sequence[str],
                 retrieving: Sequence[str] = RETRIEVING_COLUMNS) -> bool | None:
    """Did the exchange's retrieval find the question's passage? True when the contexts of its retrieving
    columns hold a chunk of every source document; None when no retrieving column answered or the question
    names no source."""
    found = [answer for pipeline, answer in answers.items() if pipeline in retrieving]
    if not found or not sources:
        return None
    retrieved = {context.get("source") for answer in found for context in answer.get("contexts") or []}
    return all(source in retrieved for source in sources)


def exchange_adapter(answers: Mapping[str, Mapping]) -> str:
    """The adapter id(s) the exchange's columns used, joined by "+" ("" for none)."""
    return "+".join(sorted({a["adapter_id"] for a in answers.values() if a.get("adapter_id")}))


def rows_from_exchanges(
    exchanges: Iterable[Mapping], items: Iterable[QuestionItem], *, scores: Iterable[Mapping] = (),
    votes: Mapping[str, str] | None = None, updated_sources: Iterable[str] = (),
    question_type: Callable[[QuestionItem], str] | None = None,
) -> tuple[list[AnswerRow], list[VoteRow]]:
    """Answer and vote rows from stored exchanges (as :meth:`FeedbackStore.exchange` returns them).

    Only questions of the set count (matched as the reference set matches them). Correctness is recomputed
    from the answer text with the set's keys (:func:`~pipelines.common.abstention.answer_correct`), so an
    answer that holds the key but abstains is wrong, and one to an out-of-corpus question is right when it
    abstains. ``scores``: stored score rows (``exchange_id``, ``pipeline``, ``metric``, ``value``, ``status``),
    whose computed ragas values become ``metrics``; ``votes``: exchange id -> its latest choice;
    ``question_type``: the type of a question (default: the set's, else the rules, with ``updated_sources``).
    A failed answer (an error) is left out; it stays in its exchange's vote.
    """
    by_question = {normalise_question(item.question): item for item in items}
    changed = frozenset(updated_sources)
    type_of = question_type or (lambda item: tag_question(item, updated_sources=changed).type)
    metrics: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in scores:
        if row.get("status") == "ok" and row.get("value") is not None and row["metric"] not in CORRECTNESS_METRICS:
            metrics[(row["exchange_id"], row["pipeline"])][row["metric"]] = float(row["value"])
    votes = votes or {}
    answer_rows: list[AnswerRow] = []
    vote_rows: list[VoteRow] = []
    for exchange in exchanges:
        item = by_question.get(normalise_question(exchange["question"]))
        if item is None:
            continue
        answers = exchange["answers"]
        keys = {"source": item.source, "type": type_of(item), "adapter": exchange_adapter(answers),
                "hit": exchange_hit(answers, source_list(item.source)),
                "split": split_value(item)}
        question_id = item.id or item.question
        truth = list(item.keys) or ([item.reference] if item.reference else [])
        for pipeline, answer in answers.items():
            if answer.get("error"):
                continue
            text = answer.get("answer") or ""
            answer_rows.append(AnswerRow(
                exchange["id"], question_id, pipeline, **keys,
                correct=answer_correct(text, item.keys, answerable=item.answerable),
                f1=token_f1(text, truth) if item.answerable and truth else None,
                abstained=abstains(text) if text.strip() else None,
                metrics=metrics.get((exchange["id"], pipeline), {}),
            ))
        if exchange["id"] in votes:
            vote_rows.append(VoteRow(exchange["id"], question_id, votes[exchange["id"]], tuple(answers), **keys))
    return answer_rows, vote_rows


def rows_from_store(store: FeedbackStore, items: Sequence[QuestionItem], *,
                    exchange_ids: Sequence[str] | None = None,
                    updated_sources: Iterable[str] = ()) -> tuple[list[AnswerRow], list[VoteRow]]:
    """:func:`rows_from_exchanges` for a feedback store: the given exchanges (a batch run's), else every
    exchange that was scored or voted on; oldest first."""
    scores = store.scores()
    votes = {row["exchange_id"]: row["choice"] for row in store.rated_exchanges()}
    if exchange_ids is None:
        exchange_ids = list(dict.fromkeys([*(row["exchange_id"] for row in scores), *votes]))
    wanted = set(exchange_ids)
    exchanges = sorted((found for found in (store.exchange(i) for i in wanted) if found is not None),
                       key=lambda exchange: (exchange["created_at"], exchange["id"]))
    return rows_from_exchanges(exchanges, items, scores=[s for s in scores if s["exchange_id"] in wanted],
                               votes=votes, updated_sources=updated_sources)
