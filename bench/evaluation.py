"""Scoring cost: our path (ScoringWorker -> RagasScorer -> feedback store) vs a bare ``ragas.evaluate``.

Same exchanges, same offline metrics, same embeddings, in one run. Each exchange has a RAG
answer with retrieved passages and a fine-tuned answer without; answers and passages come
from the sample question set (reference answers, lightly edited, and reference passages).

  ratio = our seconds per exchange / bare ragas.evaluate seconds per exchange   (goal <= 1.1)

and, for scale, how long the offline metrics take for all the exchanges.

    python bench/evaluation.py [--exchanges 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")


ROUNDS = 3


def build_exchanges(store, references, count: int) -> list[str]:
    from pipelines.common.events import PipelineResult, RetrievedChunk, Timings

    # Answerable questions only: an out-of-corpus one has no reference passage, so its context metrics are n/a
    # and the bench would time less work than it did before the sample set had them.
    refs = [ref for ref in references.references.values() if ref.answerable]
    ids = []
    for i in range(count):
        ref = refs[i % len(refs)]
        chunks = [RetrievedChunk(text, ref.source, rank, 1.0 / rank, rank) for rank, text in
                  enumerate(ref.contexts[:3], start=1)]
        ids.append(store.record_exchange("bench", ref.question, [
            PipelineResult("rag", f"{ref.answer} [1]", chunks, None, Timings(0.1, 1.0, 0.01, 5), "m"),
            PipelineResult("finetuned", " ".join(ref.answer.split()[: max(3, i % 12)]), [], None,
                           Timings(0.1, 1.0), "m", "a@1"),
        ]))
    return ids


def bare_evaluate(scorer, store, exchange_ids: list[str]) -> float:
    """One ``ragas.evaluate`` per metric set over all samples: the fastest honest use of the library."""
    from ragas import EvaluationDataset, SingleTurnSample, evaluate

    with_context, without = [], []
    for exchange_id in exchange_ids:
        exchange = store.exchange(exchange_id)
        reference = scorer.references.find(exchange["question"])
        for answer in exchange["answers"].values():
            contexts = [c["text"] for c in answer["contexts"]]
            sample = SingleTurnSample(user_input=exchange["question"], response=answer["answer"],
                                      reference=reference.answer, retrieved_contexts=contexts or None,
                                      reference_contexts=list(reference.contexts) if contexts else None)
            (with_context if contexts else without).append(sample)
    started = time.perf_counter()
    for samples, context in ((with_context, True), (without, False)):
        evaluate(EvaluationDataset(samples=samples), metrics=scorer._metrics(context), show_progress=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exchanges", type=int, default=100)
    args = parser.parse_args()

    from pipelines.common.settings import Settings
    from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
    from pipelines.feedback.store import FeedbackStore
    from pipelines.knowledge.embeddings import Embedder

    settings = Settings()
    references = ReferenceSet.load(settings.questions_file, settings.corpus_dir)
    scorer = RagasScorer(Embedder.load(settings.embedding_model), references)
    with tempfile.TemporaryDirectory() as tmp:
        store = FeedbackStore.open(Path(tmp) / "f.sqlite3")
        exchange_ids = build_exchanges(store, references, args.exchanges)
        worker = ScoringWorker(store, lambda: scorer)
        worker.score(exchange_ids[0])  # warm-up: metric objects, tokenizers
        bare_evaluate(scorer, store, exchange_ids[:2])
        ours_rounds, bare_rounds = [], []
        for _ in range(ROUNDS):  # alternating rounds: a noisy neighbour hits both sides alike
            started = time.perf_counter()
            for exchange_id in exchange_ids:
                worker.score(exchange_id)
            ours_rounds.append(time.perf_counter() - started)
            bare_rounds.append(bare_evaluate(scorer, store, exchange_ids))
        ratio = statistics.median(o / b for o, b in zip(ours_rounds, bare_rounds, strict=True))
        ours_s, bare_s = statistics.median(ours_rounds), statistics.median(bare_rounds)
        worker.stop()
    n = len(exchange_ids)
    print(f"evaluation ({n} exchanges x 2 answers, offline metrics: context precision/recall, ROUGE, BLEU, "
          "string and semantic similarity)")
    print(f"  seconds per exchange, ours / bare ragas.evaluate : {ratio:.2f}  (goal <= 1.1; median of {ROUNDS} rounds; "
          f"{ours_s / n * 1000:.0f} ms vs {bare_s / n * 1000:.0f} ms)")
    print(f"  offline metrics for all {n} exchanges (ours)     : {ours_s:.1f} s")


if __name__ == "__main__":
    main()
