"""Right answers per column: key-fact accuracy and token F1 (95% intervals), through the arena itself.

For each question set (its documents ingested into their own collection of the managed Weaviate) every
column answers every question through ``Arena.ask``, the path the UI and the API use: the base model
alone (the floor), RAG, fine-tuned and RAG + fine-tuned. Per column: key-fact accuracy, token F1, and
for the RAG columns retrieval hit@k (a retrieved passage holds the key), hit@prompt (a passage *in the
prompt* holds it) and accuracy when it was in the prompt (the reader's share of the loss). All of these are
over the answerable questions only, so the numbers stay comparable with runs made before the sample set had
out-of-corpus questions (no document answers them); those are counted apart, per column: how many answers said
the documents do not say (abstained) and how many stated something instead (made up), with the share
(:func:`pipelines.common.abstention.out_of_corpus_outcome`; an empty answer counts in neither).

Sets (``assets/``): ``sample`` (the Lumenhollow corpus; only its ``test`` split, never trained on, is asked
unless ``--sample-split all``), ``dev``
(tune on it), ``test`` (report on it; never tune on it). A fine-tuned column needs an adapter trained on
that set's documents: ``--adapter dev=data/adapters/dev``; without one it is left out for that set.

Reader variants (``--variant name:passages=3,form=instruct,sentences=0,ngram=0,trim=1``) run on one
started runtime, so choices are compared on the same retrieval in one run; ``adapter=PATH`` in a variant
compares adapters the same way (``bench/finetune_sweep.py`` uses it for its epoch snapshots).

    python bench/answer_quality.py --quick                       # about 10 minutes on 2 cores
    python bench/answer_quality.py --sets dev --variant a:passages=1 --variant b:passages=3
    python bench/answer_quality.py --sets sample,test --adapter sample=assets/adapters/lumenhollow-qlora
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

SETS = {
    "sample": (ROOT / "assets" / "corpus", ROOT / "assets" / "questions.jsonl"),
    "dev": (ROOT / "assets" / "eval" / "dev" / "docs", ROOT / "assets" / "eval" / "dev" / "questions.jsonl"),
    "test": (ROOT / "assets" / "eval" / "test" / "docs", ROOT / "assets" / "eval" / "test" / "questions.jsonl"),
}
COLUMNS = ("base", "rag", "finetuned", "rag_finetuned")
QUICK_QUESTIONS = 20


@dataclass
class ColumnTally:
    correct: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    hit_k: list[float] = field(default_factory=list)
    hit_prompt: list[float] = field(default_factory=list)
    correct_given_hit: list[float] = field(default_factory=list)
    errors: int = 0
    abstained: int = 0  # out-of-corpus answers that said the documents do not say (right)
    made_up: int = 0  # out-of-corpus answers that stated something instead


def tally_answer(tally: ColumnTally, item, answer: str, context=None) -> dict:
    """Count one column's answer to one question in its tally; the answer's record (for ``--out``) without the
    set and column. An answerable question counts in accuracy, F1 and the hits; an out-of-corpus one only in
    abstained or made up, so the accuracy columns mean what they meant before the set had such questions."""
    from pipelines.common.abstention import ABSTAINED, MADE_UP, out_of_corpus_outcome
    from pipelines.common.correctness import key_present, token_f1

    if not item.answerable:
        outcome = out_of_corpus_outcome(answer)
        tally.abstained += outcome == ABSTAINED
        tally.made_up += outcome == MADE_UP
        return {"id": item.id, "question": item.question, "keys": [], "answer": answer, "answerable": False,
                "outcome": outcome, "correct": None, "hit_k": None, "hit_prompt": None}
    keys = list(item.keys) or [item.reference]
    right = float(key_present(answer, keys))
    tally.correct.append(right)
    tally.f1.append(token_f1(answer, keys))
    hit_k = hit_prompt = None
    if context is not None:
        read = [c for c in context.chunks if context.in_prompt is None or c.rank in context.in_prompt]
        hit_k = float(any(key_present(c.text, keys) for c in context.chunks))
        hit_prompt = float(any(key_present(c.text, keys) for c in read))
        tally.hit_k.append(hit_k)
        tally.hit_prompt.append(hit_prompt)
        if hit_prompt:
            tally.correct_given_hit.append(right)
    return {"id": item.id, "question": item.question, "keys": keys, "answer": answer, "answerable": True,
            "outcome": None, "correct": right, "hit_k": hit_k, "hit_prompt": hit_prompt}


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, spec = text.partition(":")
    options = dict(item.split("=", 1) for item in spec.split(",") if item)
    return name, options


# variant key -> (field of ReaderOptions or AnswerRules, how to read the value)
READER_KEYS = {"form": ("form", str), "passages": ("passages", int), "trim": ("trim", int),
               "system": ("system", lambda value: value == "yes"), "pick": ("pick", str),
               "copy": ("copy", str), "abstain": ("abstain", str)}
RULE_KEYS = {"sentences": ("max_sentences", int), "ngram": ("no_repeat_ngram", int)}


def apply_variant(runtime, options: dict[str, str]) -> None:
    """Set the reader and answer rules of the started runtime's columns: the settings' values, with the
    variant's own on top."""
    from pipelines.runtime import answer_rules, reader_options

    def chosen(keys: dict) -> dict:
        return {field: read(options[key]) for key, (field, read) in keys.items() if key in options}

    reader = replace(reader_options(runtime.settings), **chosen(READER_KEYS))
    rules = replace(answer_rules(runtime.settings), **chosen(RULE_KEYS))
    for pipeline in runtime.arena.pipelines:
        if hasattr(pipeline, "reader"):
            pipeline.reader = reader
        if hasattr(pipeline, "rules"):
            pipeline.rules = rules
    runtime.arena.max_new_tokens = int(options.get("max_tokens", runtime.arena.max_new_tokens))


def ask_set(runtime, name: str, items, columns: tuple[str, ...], retrieval,
            answers_out: list[dict]) -> dict[str, ColumnTally]:
    from pipelines.arena.arena import ArenaSession
    from pipelines.common.events import ContextEvent, DoneEvent, ErrorEvent

    tallies = {column: ColumnTally() for column in columns}
    for item in items:
        session = ArenaSession(session_id=f"bench-{name}", columns=columns, retrieval=retrieval)
        answers: dict[str, str] = {}
        contexts: dict[str, list] = {}
        for pipeline, event in runtime.arena.ask(item.question, session):
            if isinstance(event, ContextEvent):
                contexts[pipeline] = event
            elif isinstance(event, DoneEvent):
                answers[pipeline] = event.answer
            elif isinstance(event, ErrorEvent):
                answers[pipeline] = None
        for column in columns:
            tally, answer = tallies[column], answers.get(column)
            if answer is None:
                tally.errors += 1
                continue
            answers_out.append({"set": name, "column": column,
                                **tally_answer(tally, item, answer, contexts.get(column))})
    return tallies


def set_label(set_name: str, items) -> str:
    """"sample (12)", or "sample (12 + 6 out-of-corpus)": the first number is what the accuracy is over."""
    unanswerable = sum(not item.answerable for item in items)
    answerable = len(items) - unanswerable
    return f"{set_name} ({answerable} + {unanswerable} out-of-corpus)" if unanswerable else f"{set_name} ({answerable})"


def count_share(count: int, total: int) -> str:
    """"5 of 6 (83%)"; "–" when the set has no out-of-corpus answer for the column."""
    return f"{count} of {total} ({count / total:.0%})" if total else "–"


def table_rows(set_name: str, variant: str, tallies: dict[str, ColumnTally]) -> list[str]:
    from pipelines.common.correctness import mean_interval, proportion_interval

    def share(values: list[float]) -> str:
        return str(proportion_interval(sum(values), len(values))) if values else "–"

    rows = []
    for column, tally in tallies.items():
        f1 = mean_interval(tally.f1)
        f1_text = f"{f1.mean:.2f} [{f1.low:.2f}, {f1.high:.2f}]" if tally.f1 else "–"
        counted = tally.abstained + tally.made_up
        rows.append(f"| {set_name} | {variant} | {column} | {share(tally.correct)} | "
                    f"{f1_text} | {share(tally.hit_k)} | {share(tally.hit_prompt)} | "
                    f"{share(tally.correct_given_hit)} | {tally.errors} | {count_share(tally.abstained, counted)} | "
                    f"{count_share(tally.made_up, counted)} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="sample,dev,test", help="comma-separated: sample, dev, test")
    parser.add_argument("--columns", default=",".join(COLUMNS))
    parser.add_argument("--adapter", action="append", default=[], metavar="SET=PATH",
                        help="the adapter trained on that set's documents (sample: the shipped one by default)")
    parser.add_argument("--sample-split", default="test",
                        help="the sample set's split to ask (default test: its train split was trained on, which "
                             "would flatter the fine-tuned columns); 'all' for both")
    parser.add_argument("--source", action="append", default=[], help="only questions about this document "
                        "(e.g. to judge an adapter trained on part of a set)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_QUESTIONS} questions per set")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:key=value,...",
                        help="reader/answer-rule variant: form, passages, pick, trim, system, sentences, ngram, "
                             "max_tokens, top_k, alpha, adapter (a folder: compare adapters on one runtime)")
    parser.add_argument("--out", type=Path, default=None, help="write every answer as JSON lines here")
    args = parser.parse_args()

    from pipelines.common.questions import load_questions
    from pipelines.common.settings import Settings
    from pipelines.knowledge.retrieval import RetrievalOptions
    from pipelines.runtime import Runtime

    adapters = dict(item.split("=", 1) for item in args.adapter)
    adapters.setdefault("sample", str(Settings().adapter_path))
    limit = args.limit or (QUICK_QUESTIONS if args.quick else None)
    columns = tuple(c for c in args.columns.split(",") if c)
    variants = [parse_variant(v) for v in args.variant] or [("default", {})]
    started = time.perf_counter()
    answers: list[dict] = []
    lines = ["| set | variant | column | key-fact accuracy [95%] | token F1 [95%] | hit@k | hit@prompt | "
             "accuracy when in prompt | errors | out-of-corpus: abstained | out-of-corpus: made up |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", collection="SampleEval")
        runtime = Runtime.start(settings)
        try:
            if runtime.knowledge is None or runtime.backend is None:
                raise SystemExit(f"cannot run: {runtime.problems}")
            for set_name in [s for s in args.sets.split(",") if s]:
                docs, questions = SETS[set_name]
                items = [i for i in load_questions(questions, require_reference=True)
                         if (set_name != "sample" or args.sample_split in ("all", i.split))
                         and (not args.source or i.source in args.source)][:limit]
                collection = f"Eval{set_name.title()}"
                if set_name != "sample":
                    runtime.knowledge.create_collection(collection)
                    report = runtime.knowledge.ingest_paths(collection, sorted(docs.iterdir()))
                    print(f"{set_name}: {report.chunks} chunks from {len(report.files)} files", file=sys.stderr)
                set_columns = columns
                if set_name in adapters:
                    runtime.backend.load_adapter(Path(adapters[set_name]))
                else:
                    set_columns = tuple(c for c in columns if c not in ("finetuned", "rag_finetuned"))
                    print(f"{set_name}: no adapter given, fine-tuned columns left out", file=sys.stderr)
                for variant, options in variants:
                    apply_variant(runtime, options)
                    if "adapter" in options and set_columns != columns:
                        raise SystemExit(f"variant {variant} names an adapter: give --adapter {set_name}=PATH too")
                    if "adapter" in options:
                        runtime.backend.load_adapter(Path(options["adapter"]))
                    retrieval = RetrievalOptions(collection=None if set_name == "sample" else collection,
                                                 top_k=int(options.get("top_k", settings.top_k)),
                                                 alpha=float(options.get("alpha", settings.hybrid_alpha)))
                    tallies = ask_set(runtime, set_name, items, set_columns, retrieval, answers)
                    lines += table_rows(set_label(set_name, items), variant, tallies)
                    print("\n".join(lines[-len(tallies):]), file=sys.stderr, flush=True)
        finally:
            runtime.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    print("\n".join(lines))
    print(f"\n{len(answers)} answers in {time.perf_counter() - started:.0f} s; "
          f"variants: {', '.join(f'{n}={o or {}}' for n, o in variants)}")


if __name__ == "__main__":
    main()
