"""``python -m pipelines.evaluation``: every pipeline over a question set, scored, as a report folder.

    python -m pipelines.evaluation --questions assets/questions.jsonl --out reports/today [--limit 10]

Starts the whole app (:class:`pipelines.runtime.Runtime`) and hands it to
:func:`pipelines.evaluation.batch.run_batch`; a CLI sits at the top of the layers, so it may.
"""

from __future__ import annotations

import logging
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.evaluation``: every pipeline over a question set, scored, as a report folder."""
    import argparse

    from pipelines.common.settings import Settings
    from pipelines.evaluation.batch import run_batch
    from pipelines.runtime import Runtime

    parser = argparse.ArgumentParser(description="Run every pipeline over a question set and score it with ragas.")
    parser.add_argument("--questions", type=Path, default=None, help="JSONL (default: the sample question set)")
    parser.add_argument("--out", type=Path, default=Path("reports") / "latest")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    runtime = Runtime.start(settings)
    try:
        for problem in runtime.problems:
            print(f"warning: {problem}")
        report = run_batch(runtime, args.questions or settings.questions_file, args.out, args.limit)
    finally:
        runtime.close()
    print((report.folder / "summary.md").read_text())
    print(f"Report: {report.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
