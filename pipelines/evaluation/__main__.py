"""``python -m pipelines.evaluation``: every pipeline over a question set, scored, as a report folder with the verdict.

    python -m pipelines.evaluation --questions assets/questions.jsonl --out reports/today [--limit 10]
    python -m pipelines.evaluation verdict --questions assets/questions.jsonl --out reports/today [--limit 10]
    python -m pipelines.evaluation verdict --stored --out reports/verdict
    python -m pipelines.evaluation questions --docs DIR --out FILE.jsonl [--count N] [--out-of-corpus M] \
        [--generator rules|model] [--seed S] [--training pairs.jsonl] [--max-overlap 0.6]

The first two start the whole app (:class:`pipelines.runtime.Runtime`) and hand it to
:func:`pipelines.evaluation.batch.run_batch` (a CLI sits at the top of the layers, so it may); the folder gets
the scores, the summary and ``verdict.html``. ``batch`` (the default command) prints the summary, ``verdict``
prints the verdict. ``verdict --stored`` runs nothing: it builds the verdict from the answers already in the
feedback store (every scored or voted exchange of the set) and opens only the store. Without ``--questions``
these run on the set the app's evaluation uses (the collection's set chosen in the Questions tab, else the
start-up file) and name it as the app does, with its content hash. ``questions`` starts
nothing either: it generates a keyed question set from a folder of documents
(:mod:`pipelines.evaluation.question_generation`; ``--generator model``: ragas on the judge endpoint,
:mod:`pipelines.evaluation.question_generation_model`) and writes it atomically, or writes nothing and exits 2
with the reason.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.common.process_exit import exit_now

if TYPE_CHECKING:
    from pipelines.common.settings import Settings
    from pipelines.evaluation.saved_question_sets import ChosenSet

BATCH, VERDICT, QUESTIONS = "batch", "verdict", "questions"
GENERATORS = ("rules", "model")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked: ``--stored`` only with ``verdict``, ``--limit`` at least 1."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.evaluation",
        description="Run every pipeline over a question set, score it, and write the report with the verdict.")
    parser.add_argument("command", nargs="?", choices=(BATCH, VERDICT), default=BATCH,
                        help="batch (default): print the summary; verdict: print the verdict")
    parser.add_argument("--questions", type=Path, default=None,
                        help="JSONL (default: the set the app's evaluation uses: the one chosen in the Questions "
                             "tab, else the start-up file)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the report folder (default: reports/latest; with --stored: reports/verdict)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--stored", action="store_true",
                        help="verdict only: from the answers already stored, without running the set (no model)")
    args = parser.parse_args(argv)
    if args.stored and args.command != VERDICT:
        parser.error("--stored goes with the verdict command: python -m pipelines.evaluation verdict --stored")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.out is None:
        args.out = Path("reports") / ("verdict" if args.stored else "latest")
    return args


def chosen_set(settings: Settings, questions: Path | None) -> ChosenSet:
    """The set a command runs on: ``--questions`` when given, else the one the app's evaluation uses (the
    collection's set chosen in the Questions tab, or the start-up file), named as the app names it: with its
    content hash, so a verdict from the command and one from the app on the same set carry the same name."""
    from pipelines.evaluation.saved_question_sets import ChosenSet, SavedQuestionSets, content_hash

    if questions is None:
        return SavedQuestionSets(settings.data_dir, startup_file=settings.questions_file).chosen()
    return ChosenSet(questions.name, questions, None, content_hash(questions) if questions.is_file() else "")


def _documents(settings: Settings, chosen: ChosenSet) -> Path:
    """The documents the set asks about (a collection's kept originals, else the sample corpus), as
    :meth:`pipelines.runtime.Runtime.question_set_documents` finds them, without starting Weaviate."""
    if chosen.collection is None:
        return settings.corpus_dir
    from pipelines.knowledge.store import collection_name

    return settings.data_dir / "documents" / collection_name(chosen.collection)


def stored_verdict(questions: Path | None, out: Path, limit: int | None = None) -> int:
    """``verdict --stored``: the verdict from the feedback store alone, on ``questions`` or (None) the set the
    app's evaluation uses; 2 when the set cannot be read."""
    from pipelines.common.settings import settings_or_exit
    from pipelines.evaluation.question_tags import typed_questions
    from pipelines.evaluation.verdict import build_verdict, render_markdown, write_verdict
    from pipelines.feedback.store import FeedbackStore

    settings = settings_or_exit()
    chosen = chosen_set(settings, questions)
    questions = chosen.path
    try:
        items = typed_questions(questions, settings.data_dir)  # with the type edits made in the Evaluation tab
    except ValueError as exc:  # the set, or the stored type edits, cannot be read
        print(f"error: {questions}: {exc}")
        return 2
    items = items[:limit] if limit else items
    store = FeedbackStore.open(settings.feedback_target)
    try:
        verdict = build_verdict(store, items, set_name=chosen.label, adapter_folder=settings.adapter_path,
                                corpus_dir=_documents(settings, chosen))
    finally:
        store.close()
    page = write_verdict(verdict, out)
    print(render_markdown(verdict))
    print(f"Verdict: {page}")
    return 0


def parse_question_args(argv: list[str]) -> argparse.Namespace:
    """The ``questions`` command line, checked: counts at least 1 (out-of-corpus at least 0), overlap in 0..1."""
    from pipelines.evaluation.question_checks import MAX_TRAINING_OVERLAP
    from pipelines.evaluation.question_generation import DEFAULT_COUNT

    parser = argparse.ArgumentParser(
        prog="python -m pipelines.evaluation questions",
        description="Generate a keyed question set (JSONL) from a folder of documents.")
    parser.add_argument("--docs", type=Path, required=True, help="the folder of documents (PDF, DOCX, HTML, md, txt)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument("--count", type=int, default=None,
                        help="at most about this many questions (default: rules, one per checkable fact up to "
                             f"{DEFAULT_COUNT}; model, 40)")
    parser.add_argument("--out-of-corpus", type=int, default=None,
                        help="how many questions no document answers (default 15%% of the set)")
    parser.add_argument("--generator", choices=GENERATORS, default="rules",
                        help="rules (default: offline, no model); model: ragas' testset generator on the judge "
                             "endpoint (ARENA_JUDGE=endpoint, ARENA_LLM_BASE_URL, ARENA_LLM_MODEL)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--training", type=Path, default=None,
                        help="training pairs (JSONL/CSV) or a question set whose train split was trained on: "
                             "questions too close to them are dropped")
    parser.add_argument("--max-overlap", type=float, default=MAX_TRAINING_OVERLAP,
                        help=f"the highest word overlap allowed with a training question (default "
                             f"{MAX_TRAINING_OVERLAP})")
    args = parser.parse_args(argv)
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.out_of_corpus is not None and args.out_of_corpus < 0:
        parser.error("--out-of-corpus must be 0 or more")
    if not 0.0 <= args.max_overlap <= 1.0:
        parser.error("--max-overlap must be between 0 and 1")
    return args


def generate_questions(argv: list[str]) -> int:
    """``questions``: generate and write the set; 2 (nothing written) when the input cannot make one."""
    from pipelines.evaluation.question_checks import TrainingQuestionsError, load_training_questions
    from pipelines.evaluation.question_generation import (
        QuestionGenerationError,
        generate_question_set,
        read_documents,
        write_question_set,
    )

    args = parse_question_args(argv)
    try:
        training = load_training_questions(args.training) if args.training else []
        documents = read_documents(args.docs)
        options = {"out_of_corpus": args.out_of_corpus, "seed": args.seed, "training_questions": training,
                   "max_overlap": args.max_overlap}
        if args.count is not None:  # else each generator's own default (rules: one per fact, capped)
            options["count"] = args.count
        if args.generator == "model":  # ragas' testset generator on the judge endpoint
            from pipelines.common.settings import settings_or_exit
            from pipelines.evaluation.question_generation_model import generate_with_endpoint

            generated = generate_with_endpoint(documents, settings_or_exit(), **options)
        else:
            generated = generate_question_set(documents, **options)
        write_question_set(args.out, generated)
    except (QuestionGenerationError, TrainingQuestionsError) as exc:
        print(f"error: {exc}; nothing written")
        return 2
    except OSError as exc:
        print(f"error: {args.out} cannot be written ({exc.strerror or exc}); nothing written")
        return 2
    print(generated.summary())
    print(f"Question set: {args.out} (sha256 {generated.content_hash[:12]})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.evaluation``: see the module docstring."""
    import sys

    from pipelines.common.settings import settings_or_exit

    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [QUESTIONS]:
        return generate_questions(arguments[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.stored:
        return stored_verdict(args.questions, args.out, args.limit)

    settings = settings_or_exit()  # first: a bad ARENA_* variable is one line in a second, not after 5 s of imports
    from pipelines.evaluation.batch import run_batch
    from pipelines.evaluation.verdict import render_markdown
    from pipelines.runtime import Runtime

    runtime = Runtime.start(settings)
    try:
        for problem in runtime.problems:
            print(f"warning: {problem}")
        chosen = chosen_set(runtime.settings, args.questions)
        report = run_batch(runtime, chosen.path, args.out, args.limit, set_name=chosen.label,
                           collection=chosen.collection, corpus_dir=runtime.question_set_documents(chosen))
    finally:
        runtime.close()
    if args.command == VERDICT and report.verdict is not None:
        print(render_markdown(report.verdict))
        print(f"Verdict: {report.verdict_page}")
    else:
        print((report.folder / "summary.md").read_text())
        print(f"Report: {report.folder} (the verdict: {report.verdict_page})")
    return 0


if __name__ == "__main__":
    exit_now(main())  # a clean end skips the ML modules' teardown (2-4 s); errors leave as usual
