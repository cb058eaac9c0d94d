"""Generated question sets on the project's dev and test corpora, measured against the issue's goals.

For each corpus (``assets/eval/dev`` and ``assets/eval/test``: documents plus a hand-written keyed set), the
offline ``rules`` generator makes a set and the bench prints: questions per document, the share of answerable
questions whose key is in its source (as the readers read it), how many questions contain their key, the type and
form mix, the out-of-corpus share, the share of hand-written keys the generated set also asks about (keys matched
normalised: case, punctuation and thousands separators ignored, any acceptable form of either), the highest word
overlap with the training questions (the fact pairs the sample training recipe builds from the same documents:
what an adapter trained on them saw, see ``pipelines.training.fact_pairs``), and seconds per 100 questions.
No model is loaded: the rules generator needs none.

    python bench/question_sets.py [--count 300] [--small-count 40] [--seed 0] [--corpus dev]
                                  [--sample 30 --out sample.jsonl] [--misses dev]

The share of hand-written keys asked is given twice: at ``--count`` (default: the command's default, one question
per checkable fact the rules can word up to 300, what a user gets without asking) and at ``--small-count`` (40: a
small set, where the ranking of facts decides what is asked). ``--sample N`` also writes N random generated
questions of the ``--count`` sets (seeded by ``--seed``, drawn apart from the generation's own randomness) for a
person to review. ``--misses dev`` prints each hand-written fact of that corpus the ``--count`` set does not ask
about, with the stage that lost it (no fact span holds the key, no wording rule fits, a wording refused and why, a
check failed and why, or worded and checked but not chosen). Read the misses of the dev corpus only: the test
corpus is for reporting, never for tuning.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Folders of assets/eval: documents plus a hand-written keyed set.
CORPORA = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "test")
GOALS = {"keys found": 0.95, "per document": 2, "out-of-corpus": 0.10, "coverage": 0.50, "seconds per 100": 60.0}


def training_questions(docs: Path) -> list[str]:
    """The questions of the sample training recipe's fact pairs for these documents (what a fine-tune saw)."""
    from pipelines.knowledge.readers import read_document
    from pipelines.training.fact_pairs import document_pairs

    questions = []
    for path in sorted(docs.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            questions.extend(pair.question for pair in document_pairs(path.name, read_document(path.name,
                                                                                               path.read_bytes())))
    return questions


def measure(corpus: Path, count: int, seed: int, small_count: int = 40) -> dict:
    """One corpus: generate, then every number the bench prints (coverage also at ``small_count``)."""
    from pipelines.common.correctness import normalise_answer
    from pipelines.common.questions import load_questions
    from pipelines.evaluation.question_checks import highest_overlap, key_in_text, question_holds_key
    from pipelines.evaluation.question_generation import generate_question_set, read_documents

    documents = read_documents(corpus / "docs")
    training = training_questions(corpus / "docs")
    started = time.perf_counter()
    generated = generate_question_set(documents, count=count, seed=seed, training_questions=training)
    seconds = time.perf_counter() - started
    texts = {d.name: d.text for d in documents}
    answerable = [item for item in generated.items if item.get("answerable", True)]

    def forms(item: dict) -> list[str]:
        return [item["key"]] if isinstance(item["key"], str) else list(item["key"])

    found = sum(key_in_text(forms(item), texts[item["source"]]) for item in answerable)
    holds_key = sum(question_holds_key(item["question"], forms(item)) for item in answerable)
    asked = {(item["source"], normalise_answer(form)) for item in answerable
             for part in item.get("keys_all", [forms(item)]) for form in part}
    hand = [item for item in load_questions(corpus / "questions.jsonl", require_reference=True) if item.keys]
    covered = [item for item in hand if any((item.source, normalise_answer(k)) in asked for k in item.keys)]
    small = generate_question_set(documents, count=small_count, seed=seed, training_questions=training)
    asked_small = {(item["source"], normalise_answer(form)) for item in small.items if item.get("answerable", True)
                   for part in item.get("keys_all", [forms(item)]) for form in part}
    covered_small = [item for item in hand if any((item.source, normalise_answer(k)) in asked_small
                                                  for k in item.keys)]
    from pipelines.evaluation.question_checks import content_words

    training_words = [content_words(q) for q in training]
    hand_overlap = max(highest_overlap(item.question, training_words) for item in hand)
    per_document = Counter(item["source"] for item in answerable)
    return {
        "corpus": corpus.name, "documents": len(documents), "questions": len(generated.items),
        "per document": {d.name: per_document[d.name] for d in documents},
        "keys found": found / max(len(answerable), 1), "contain key": holds_key,
        "types": Counter(item["type"] for item in generated.items),
        "forms": Counter(item["form"] for item in generated.items),
        "out-of-corpus": (len(generated.items) - len(answerable)) / max(len(generated.items), 1),
        "coverage": len(covered) / max(len(hand), 1), "covered": len(covered), "hand-written keys": len(hand),
        "count": count, "small count": small_count, "small questions": len(small.items),
        "covered small": len(covered_small), "coverage small": len(covered_small) / max(len(hand), 1),
        "highest overlap": generated.max_training_overlap, "hand-written overlap": round(hand_overlap, 3),
        "training questions": len(training), "seconds per 100": seconds * 100 / max(len(generated.items), 1),
        "dropped": dict(generated.dropped), "generated": generated,
        "missed": [item for item in hand if item not in covered],
    }


def miss_stage(item, corpus: Path, training: list[str]) -> str:
    """Where a hand-written fact was lost on its way into the generated set (see the module docstring)."""
    from pipelines.common.correctness import normalise_answer
    from pipelines.evaluation.question_checks import content_words
    from pipelines.evaluation.question_facts import fact_spans, text_units
    from pipelines.evaluation.question_generation import (
        MAX_TRAINING_OVERLAP,
        SourceDocument,
        _check,
        document_candidates,
        salient_words,
    )
    from pipelines.evaluation.question_wording import Refused, word_question
    from pipelines.knowledge.readers import read_document

    path = corpus / "docs" / item.source
    document = SourceDocument(path.name, read_document(path.name, path.read_bytes()).text)
    wanted = {normalise_answer(key) for key in item.keys}
    units = text_units(document.text)
    salient = salient_words(document, units)
    outcomes = []
    for unit in units:
        if unit.cells:
            for header, value in unit.cells:
                if normalise_answer(value) in wanted or any(key in normalise_answer(value) for key in wanted):
                    outcomes.append(f"table cell {header!r}={value!r}")
            continue
        for span in fact_spans(unit.text):
            if normalise_answer(span.text) in wanted:
                worded = word_question(unit, span, salient)
                outcomes.append(f"no wording rule fits ({span.kind})" if worded is None else
                                f"refused: {worded.reason}" if isinstance(worded, Refused) else f"worded: {worded[0]}")
    candidates, _ = document_candidates(document)
    trained = [content_words(q) for q in training]
    for candidate in candidates:
        if any(normalise_answer(k) in wanted for k in candidate.keys):
            why = _check(candidate, document.text, trained, MAX_TRAINING_OVERLAP)
            outcomes.append(f"candidate {candidate.question!r}: " + (f"check failed: {why}" if why else
                                                                      "passed the checks, not chosen"))
    if not outcomes:
        spans = [s.text for u in units for s in fact_spans(u.text) if item.keys[0].lower() in u.text.lower()]
        return f"no fact span holds the key (spans of its sentence: {spans})"
    return "; ".join(dict.fromkeys(outcomes))


def misses(result: dict, corpus: Path) -> str:
    """Each hand-written fact the generated set does not ask about, with the stage that lost it."""
    training = training_questions(corpus / "docs")
    lines = [f"### misses: {result['corpus']} ({len(result['missed'])})"]
    for item in result["missed"]:
        lines.append(f"- {item.id} [{item.source}] key {item.keys[0]!r}: {item.question}\n"
                     f"    ref: {item.reference}\n    {miss_stage(item, corpus, training)}")
    return "\n".join(lines)


def report(result: dict) -> str:
    """The corpus's table rows, each with its goal."""
    per_doc = result["per document"]
    from pipelines.evaluation.question_generation import DEFAULT_COUNT

    default = " (default)" if result["count"] == DEFAULT_COUNT else ""
    rows = [
        ("documents / questions", f"{result['documents']} / {result['questions']}", ""),
        ("questions per document", ", ".join(f"{name}: {n}" for name, n in per_doc.items()),
         f"≥ {GOALS['per document']} each: {'met' if min(per_doc.values()) >= 2 else 'MISSED'}"),
        ("answerable keys found in their source", f"{result['keys found']:.0%}",
         f"≥ 95%: {'met' if result['keys found'] >= GOALS['keys found'] else 'MISSED'}"),
        ("questions containing their key", str(result["contain key"]), "0: " + (
            "met" if result["contain key"] == 0 else "MISSED")),
        ("out-of-corpus share", f"{result['out-of-corpus']:.0%}",
         f"≥ 10%: {'met' if result['out-of-corpus'] >= GOALS['out-of-corpus'] else 'MISSED'}"),
        (f"hand-written keys also asked, --count {result['small count']} ({result['small questions']} questions)",
         f"{result['covered small']}/{result['hand-written keys']} ({result['coverage small']:.0%})",
         f"≥ 50%: {'met' if result['coverage small'] >= GOALS['coverage'] else 'MISSED'}"),
        (f"hand-written keys also asked, --count {result['count']}{default} ({result['questions']} questions)",
         f"{result['covered']}/{result['hand-written keys']} ({result['coverage']:.0%})",
         f"≥ 50%: {'met' if result['coverage'] >= GOALS['coverage'] else 'MISSED'}"),
        ("type mix", ", ".join(f"{t} {n}" for t, n in sorted(result["types"].items())), ""),
        ("form mix", ", ".join(f"{t} {n}" for t, n in sorted(result["forms"].items())), ""),
        ("highest word overlap with training questions", f"{result['highest overlap']:.2f} "
                                                          f"({result['training questions']} training questions)",
         f"threshold {result['generated'].overlap_threshold:.2f}; hand-written set: {result['hand-written overlap']}"),
        ("seconds per 100 questions", f"{result['seconds per 100']:.2f}",
         f"< 60: {'met' if result['seconds per 100'] < GOALS['seconds per 100'] else 'MISSED'}"),
    ]
    lines = [f"### {result['corpus']}", "", "| measure | value | goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.append("")
    lines.append("Dropped: " + "; ".join(f"{why}: {n}" for why, n in sorted(result["dropped"].items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    from pipelines.evaluation.question_generation import DEFAULT_COUNT

    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="the command's default (DEFAULT_COUNT)")
    parser.add_argument("--small-count", type=int, default=40, help="coverage is also measured at this count")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", choices=CORPORA, action="append")
    parser.add_argument("--sample", type=int, default=0, help="write this many random questions for review")
    parser.add_argument("--out", type=Path, default=Path("question-sample.jsonl"))
    parser.add_argument("--misses", choices=CORPORA, help="print this corpus's missed hand-written facts")
    args = parser.parse_args(argv)
    sampled = []
    for name in args.corpus or CORPORA:
        result = measure(ROOT / "assets" / "eval" / name, args.count, args.seed, args.small_count)
        print(report(result))
        print()
        if args.misses == name:
            print(misses(result, ROOT / "assets" / "eval" / name))
            print()
        sampled += [{**item, "corpus": name} for item in result["generated"].items]
    if args.sample:
        picked = random.Random(f"review:{args.seed}").sample(sampled, min(args.sample, len(sampled)))
        args.out.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in picked))
        print(f"{len(picked)} questions for review: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
