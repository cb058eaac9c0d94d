"""The verdict on a generated question set beside the verdict on the hand-written set of the same documents.

The sample corpus (``assets/corpus``) is the one set of documents here with both a hand-written keyed set
(``assets/questions.jsonl``) and an adapter trained on those documents (the shipped one), so both verdicts compare
RAG with a real fine-tune. The generated set is made by the offline rules generator with the fairness rule against
the training command's own questions for these documents (what the shipped adapter's recipe trained on). One
started app (the README's default engine) answers both sets through the batch evaluation, so the two verdicts differ
only by their questions.

    python bench/question_set_verdict.py                  # 30 generated questions, seed 0: about 10 minutes here
    python bench/question_set_verdict.py --count 40 --seed 1 --limit 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

CORPUS = ROOT / "assets" / "corpus"
HAND_WRITTEN = ROOT / "assets" / "questions.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=30, help="generated questions (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    args = parser.parse_args()

    from pipelines.common.settings import Settings
    from pipelines.evaluation.batch import run_batch
    from pipelines.evaluation.question_generation import generate_question_set, read_documents, write_question_set
    from pipelines.runtime import Runtime, training_questions

    with tempfile.TemporaryDirectory(prefix="qs-verdict-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", questions_file=HAND_WRITTEN)
        started = time.perf_counter()
        generated = generate_question_set(read_documents(CORPUS), count=args.count, seed=args.seed,
                                          training_questions=training_questions(CORPUS, settings))
        generated_file = write_question_set(Path(tmp) / "generated.jsonl", generated)
        print(f"generated {len(generated.items)} questions in {time.perf_counter() - started:.1f} s; highest "
              f"overlap with the training questions {generated.max_training_overlap:.2f}")
        runtime = Runtime.start(settings)
        try:
            for problem in runtime.problems:
                print(f"warning: {problem}")
            reports = {name: run_batch(runtime, path, Path(tmp) / "reports" / name, args.limit)
                       for name, path in (("hand-written", HAND_WRITTEN), ("generated", generated_file))}
        finally:
            runtime.close()
    print("\n| set | questions | RAG | fine-tuned | RAG + fine-tuned | out-of-corpus asked | recommendation |")
    print("|---|---|---|---|---|---|---|")
    for name, report in reports.items():
        verdict = report.verdict
        accuracy = verdict.overall.pipelines
        cells = [str(accuracy[p].accuracy) if p in accuracy else "-" for p in ("rag", "finetuned", "rag_finetuned")]
        advice = verdict.recommendation.text.split(". ")[0].replace("|", "/")
        print(f"| {name} | {report.questions} | {' | '.join(cells)} | {verdict.out_of_corpus} | "
              f"{verdict.recommendation.case}: {advice} |")
    print("\n| set | split | questions | RAG | fine-tuned | RAG + fine-tuned |\n|---|---|---|---|---|---|")
    for name, report in reports.items():  # held-out questions against the ones the adapter may have trained on
        for part in report.verdict.slices.get("split", ()):
            accuracy = part.pipelines
            cells = [str(accuracy[p].accuracy) if p in accuracy else "-" for p in ("rag", "finetuned", "rag_finetuned")]
            print(f"| {name} | {part.value} | {part.questions} | {' | '.join(cells)} |")
    cases = {report.verdict.recommendation.case for report in reports.values()}
    bests = {report.verdict.recommendation.best for report in reports.values()}
    print("\nthe two verdicts", "agree" if len(cases) == 1 and len(bests) == 1 else "DIFFER", f"({cases}, {bests})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
