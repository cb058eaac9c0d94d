"""RAGAS scores for every rated exchange, computed in the background after each vote.

Correctness first: every answer to a question with a reference gets ``key_fact`` (the short key is in the
answer) and ``token_f1`` (see :mod:`pipelines.common.correctness`), the numbers that say whether it is right.
On an out-of-corpus question (no document answers it) ``key_fact`` is 1.0 when the answer says the documents do
not say and 0.0 when it states something instead (:func:`~pipelines.common.abstention.answer_correct`, the rule
the verdict's slices use), and ``token_f1`` and the context metrics are ``n/a``: there is no key to overlap and
no reference passage.
Offline by default: the non-LLM ragas metrics (context precision/recall against the
reference passages, ROUGE, BLEU, string similarity) and semantic similarity with the offline MiniLM. A metric
that cannot apply is stored as ``n/a`` with its reason, never as a zero.

Example::

    scorer = RagasScorer(embedder, ReferenceSet.load(questions_file, corpus_dir))
    rows = scorer.score_exchange(feedback.exchange(exchange_id))
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from pipelines.common.abstention import answer_correct
from pipelines.common.correctness import CORRECTNESS_METRICS, KEY_FACT, TOKEN_F1, correctness_scores
from pipelines.common.documents import document_files
from pipelines.common.questions import load_questions, normalise_question
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.chunking import Chunker
from pipelines.knowledge.embeddings import Embedder
from pipelines.knowledge.readers import ReadError, read_document

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
log = logging.getLogger(__name__)

CONTEXT_METRICS = ("non_llm_context_precision_with_reference", "non_llm_context_recall")
ANSWER_METRICS = ("rouge_score", "bleu_score", "non_llm_string_similarity", "semantic_similarity")


@dataclass(frozen=True)
class Reference:
    question: str
    answer: str
    source: str
    contexts: tuple[str, ...]
    split: str = ""
    keys: tuple[str, ...] = ()  # the short fact(s) a right answer holds (see pipelines.common.correctness)
    answerable: bool = True  # False: out-of-corpus, no document holds the answer; right means saying so


class ReferenceSet:
    """Reference answers and passages for known questions (``assets/questions.jsonl``)."""

    def __init__(self, references: dict[str, Reference]) -> None:
        self.references = references

    @classmethod
    def load(cls, questions_file: Path, corpus_dir: Path, chunker: Chunker | None = None) -> ReferenceSet:
        """Reference passages are the source document's chunks, cut as ingestion cuts them (pass its chunker).

        A missing file gives an empty set; a file without reference answers raises
        :class:`~pipelines.common.questions.QuestionSetError` with the line and the field names it accepts.
        """
        chunker = chunker or Chunker()
        references: dict[str, Reference] = {}
        if not questions_file.exists():
            return cls(references)
        files = {path.name: path for path in document_files(corpus_dir)} if corpus_dir.is_dir() else {}
        chunk_cache: dict[str, tuple[str, ...]] = {}
        for item in load_questions(questions_file, require_reference=True):
            source = item.source
            if source not in chunk_cache:
                path = files.get(source)  # a source that is not a readable document of the folder: no passages
                try:
                    chunk_cache[source] = () if path is None else tuple(
                        c.text for c in chunker.chunk(read_document(source, path.read_bytes())))
                except (OSError, ReadError):
                    chunk_cache[source] = ()
            references[normalise_question(item.question)] = Reference(
                item.question, item.reference, source, chunk_cache[source], item.split, item.keys,
                item.answerable,
            )
        return cls(references)

    def find(self, question: str) -> Reference | None:
        return self.references.get(normalise_question(question))

    def __len__(self) -> int:
        return len(self.references)

    def questions(self) -> list[str]:
        """The question set, for the arena's "next question" button."""
        return [r.question for r in self.references.values()]


def _ragas_embeddings(embedder: Embedder):
    """Adapt our embedder to ragas' ``evaluate()`` interface (its own HF wrapper there is abstract)."""
    from ragas.embeddings.base import BaseRagasEmbeddings

    class _Embeddings(BaseRagasEmbeddings):
        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts)

        async def aembed_query(self, text: str) -> list[float]:
            return self.embed_query(text)

        async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embed_documents(texts)

    from ragas.run_config import RunConfig

    embeddings = _Embeddings()
    # ragas' ``embed_text`` (answer similarity) reads ``run_config``, which only ``evaluate()`` sets: the judge
    # scores each metric without it. One attempt: a local embedder's error is not transient.
    embeddings.set_run_config(RunConfig(max_retries=1, max_wait=1))
    return embeddings


def _row(pipeline: str, metric: str, value: float | None = None, status: str = "ok", reason: str | None = None) -> dict:
    return {"pipeline": pipeline, "metric": metric, "value": value, "status": status, "reason": reason}


class RagasScorer:
    """Scores each answer of an exchange with the ragas metrics that run offline."""

    def __init__(self, embedder: Embedder, references: ReferenceSet, judge_factory=None) -> None:
        """``judge_factory(embeddings)`` builds an :class:`~pipelines.evaluation.judges.LLMJudge` for the LLM-judged
        metrics."""
        import ragas

        self.embedder = embedder
        self.references = references
        self.name = f"ragas-{ragas.__version__}-offline"
        self._embeddings = _ragas_embeddings(embedder)
        self.judge = judge_factory(self._embeddings) if judge_factory else None
        self.judge_name = f"ragas-{ragas.__version__} judge {self.judge.name}" if self.judge else ""

    def _metrics(self, with_context: bool) -> list:
        from ragas.metrics import (
            BleuScore,
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
            RougeScore,
            SemanticSimilarity,
        )

        metrics = [RougeScore(), BleuScore(), NonLLMStringSimilarity(), SemanticSimilarity(embeddings=self._embeddings)]
        if with_context:
            metrics = [NonLLMContextPrecisionWithReference(), NonLLMContextRecall(), *metrics]
        return metrics

    def score_exchange(self, exchange: dict) -> list[dict]:
        return self.score_exchanges([exchange])[exchange["id"]]

    def score_exchanges(self, exchanges: list[dict]) -> dict[str, list[dict]]:
        """Metric rows per exchange id. All answers that share a metric set go through one ``evaluate``."""
        from ragas import SingleTurnSample

        rows: dict[str, list[dict]] = {exchange["id"]: [] for exchange in exchanges}
        groups: dict[bool, list[tuple[str, str, SingleTurnSample]]] = {True: [], False: []}
        names = (*CONTEXT_METRICS, *ANSWER_METRICS)
        for exchange in exchanges:
            out = rows[exchange["id"]]
            reference = self.references.find(exchange["question"])
            for pipeline, answer in exchange["answers"].items():
                contexts = [c["text"] for c in answer["contexts"]]
                if answer["error"]:
                    out += [_row(pipeline, m, status="n/a", reason="the pipeline failed to answer")
                            for m in (*CORRECTNESS_METRICS, *names)]
                    continue
                if reference is None:
                    reason = "no reference answer for this question (it is not in the question set)"
                    out += [_row(pipeline, m, status="n/a", reason=reason) for m in (*CORRECTNESS_METRICS, *names)]
                    continue
                out += _correctness_rows(pipeline, answer["answer"], reference)
                if not contexts:
                    out += [_row(pipeline, m, status="n/a", reason="this pipeline retrieves no context")
                            for m in CONTEXT_METRICS]
                elif not reference.answerable:  # nothing to compare the retrieved passages with
                    out += [_row(pipeline, m, status="n/a", reason=OUT_OF_CORPUS_PASSAGES) for m in CONTEXT_METRICS]
                    contexts = []
                groups[bool(contexts)].append((exchange["id"], pipeline, SingleTurnSample(
                    user_input=exchange["question"], response=answer["answer"], reference=reference.answer,
                    retrieved_contexts=contexts or None,
                    reference_contexts=list(reference.contexts) if contexts else None,
                )))
        for with_context, items in groups.items():
            if items:
                for exchange_id, metric_rows in self._evaluate(items, with_context):
                    rows[exchange_id] += metric_rows
        if self.judge is not None:
            for exchange in exchanges:
                rows[exchange["id"]] += [{**row, "scorer": self.judge_name} for row in self._judged(exchange)]
        return rows

    def _judged(self, exchange: dict) -> list[dict]:
        """The LLM-judged rows of each answer; the fine-tuned answer is judged against the exchange's passages."""
        from ragas import SingleTurnSample

        reference = self.references.find(exchange["question"])
        answers = exchange["answers"]
        passages = next(([c["text"] for c in a["contexts"]] for a in answers.values() if a["contexts"]), [])
        rows = []
        for pipeline, answer in answers.items():
            if answer["error"]:
                continue
            own = [c["text"] for c in answer["contexts"]]
            sample = SingleTurnSample(user_input=exchange["question"], response=answer["answer"],
                                      retrieved_contexts=(own or passages) or None,
                                      reference=reference.answer if reference else None)
            rows += self.judge.score_answer(pipeline, sample, retrieved=bool(own))
        return rows

    def _evaluate(self, items: list, with_context: bool) -> list[tuple[str, list[dict]]]:
        """One ``ragas.evaluate`` for all items; if it raises, each item alone, so one bad answer fails alone."""
        from ragas import EvaluationDataset, evaluate

        try:
            result = evaluate(EvaluationDataset(samples=[sample for *_, sample in items]),
                              metrics=self._metrics(with_context), show_progress=False, raise_exceptions=True)
        except Exception as exc:
            if len(items) > 1:
                return [row for item in items for row in self._evaluate([item], with_context)]
            log.exception("ragas failed")
            exchange_id, pipeline, _ = items[0]
            metrics = (*CONTEXT_METRICS, *ANSWER_METRICS) if with_context else ANSWER_METRICS
            return [(exchange_id, [_row(pipeline, m, status="failed", reason=f"{type(exc).__name__}: {exc}")
                                   for m in metrics])]
        return [(exchange_id, _value_rows(pipeline, values))
                for (exchange_id, pipeline, _), values in zip(items, result.scores, strict=True)]


OUT_OF_CORPUS_PASSAGES = "out-of-corpus question: no document holds its answer, so there is no reference passage"


def _correctness_rows(pipeline: str, answer: str, reference: Reference) -> list[dict]:
    """Key-fact presence and token F1: whether the answer holds the fact (the numbers the arena is judged on).

    An out-of-corpus question's ``key_fact`` is whether the answer abstains, as the verdict counts it, so the
    Evaluation tab, the leaderboard and a batch summary give the same accuracy as the verdict page."""
    if not reference.answerable:
        right = answer_correct(answer, (), answerable=False)
        return [_row(pipeline, KEY_FACT, float(right)) if right is not None else
                _row(pipeline, KEY_FACT, status="n/a", reason="an empty answer: neither an abstention nor made up"),
                _row(pipeline, TOKEN_F1, status="n/a", reason="out-of-corpus question: no key to overlap with; "
                     "key_fact says whether the answer said the documents do not say")]
    rows = []
    for metric, value in correctness_scores(answer, reference.keys, reference.answer).items():
        rows.append(_row(pipeline, metric, value) if value is not None else
                    _row(pipeline, metric, status="n/a", reason='the question set gives no "key" for this question'))
    return rows


def _value_rows(pipeline: str, values: dict) -> list[dict]:
    """ragas' values as rows; a missing or NaN value is a failure, never a zero."""
    rows = []
    for key, value in values.items():
        metric = key.split("(")[0]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            rows.append(_row(pipeline, metric, status="failed", reason="ragas returned no value"))
        else:
            rows.append(_row(pipeline, metric, float(value)))
    return rows


class ScoringWorker:
    """A background thread that scores exchanges after votes, so voting never waits for metrics.

    Each exchange is scored once however many replicas share the store: the worker claims it first
    (:meth:`~pipelines.feedback.store.FeedbackStore.scoring_claim`), skips one another replica is scoring, and
    skips one that is scored already unless it was queued to be scored again (:meth:`submit`'s ``again``).
    """

    max_batch = 64

    def __init__(self, feedback: FeedbackStore, scorer_factory) -> None:
        self.feedback = feedback
        self._scorer_factory = scorer_factory
        self._scorer: RagasScorer | None = None
        self._queue: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> ScoringWorker:
        """Start the scoring thread (the constructor starts nothing), first queueing every voted exchange that is
        not scored yet: the queue lives in memory, so the votes of a crashed or stopped app are scored now."""
        if self._thread is None:
            try:
                for exchange_id in self.feedback.unscored_voted_exchange_ids():
                    self.submit(exchange_id)
            except Exception:  # the store is checked at start-up on its own; scoring must not stop the app
                log.exception("could not list the voted exchanges still to score")
            self._thread = threading.Thread(target=self._run, name="ragas-scoring", daemon=True)
            self._thread.start()
        return self

    def submit(self, exchange_id: str, again: bool = False) -> None:
        """Queue an exchange for scoring; queued before :meth:`start`, it is scored once the thread runs. An exchange
        already scored (its answers do not change) is scored again only when ``again`` (the "score again" button)."""
        self._queue.put((exchange_id, again))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted exchange is scored (tests, batch runs)."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def stop(self, wait_s: float = 0.0) -> None:
        """Finish what is queued (up to ``wait_s`` seconds, then leave it: scores can be recomputed, votes
        are already stored) and end the thread."""
        self._queue.put(None)
        if wait_s and self._thread is not None:
            self._thread.join(wait_s)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:  # votes that queued up meanwhile are scored together
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            items = [item for item in batch if item is not None]
            try:
                self.score_many([exchange_id for exchange_id, _ in items],
                                again={exchange_id for exchange_id, again in items if again})
            except Exception:  # keep the worker alive; the failure is logged and the next vote retries
                log.exception("scoring %s failed", batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if None in batch:
                return

    def score(self, exchange_id: str) -> list[dict]:
        """Score one exchange now, scored before or not (unless another replica is scoring it this moment)."""
        return self.score_many([exchange_id], again={exchange_id}).get(exchange_id, [])

    def score_many(self, exchange_ids: list[str], again: set[str] | None = None) -> dict[str, list[dict]]:
        """Score the exchanges together and store each one's rows (replacing this scorer's earlier rows): those this
        worker claims, and of them only the unscored ones unless named in ``again``."""
        again = again or set()
        with self.feedback.scoring_claim(exchange_ids) as claimed:
            unscored = set(self.feedback.unscored(claimed))  # read after the claim: another replica may be done
            found = (self.feedback.exchange(exchange_id) for exchange_id in claimed
                     if exchange_id in unscored or exchange_id in again)
            exchanges = [exchange for exchange in found if exchange is not None]
            if not exchanges:
                return {}
            if self._scorer is None:
                self._scorer = self._scorer_factory()
            rows = self._scorer.score_exchanges(exchanges)
            for exchange_id, exchange_rows in rows.items():
                self.feedback.add_scores(exchange_id, exchange_rows, scorer=self._scorer.name)
        return rows
