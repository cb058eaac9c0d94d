"""The batch command end to end: real Weaviate, real model, real ragas, its report and verdict checked against
the store. One run serves every test of this module (the suite's most expensive batch set-up)."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipelines.common.abstention import ABSTAINED, MADE_UP, NO_ANSWER, answer_correct, out_of_corpus_outcome
from pipelines.common.columns import label
from pipelines.common.correctness import proportion_interval
from pipelines.common.questions import load_questions
from pipelines.evaluation.slices import MIN_SLICE_ANSWERS
from pipelines.knowledge.weaviate_server import free_ports
from tests.conftest import ROOT

# Four answerable questions of the sample set's held-out split and one no document answers: five answers per
# column, so the verdict's accuracy is a number (the "too few" guard starts below five), with an
# out-of-corpus row on the page.
BATCH_IDS = ("q02", "q04", "q07", "q09", "q31")


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory) -> tuple[Path, Path, Path]:
    """``python -m pipelines.evaluation`` on those questions, once: (data dir, report folder, question file)."""
    root = tmp_path_factory.mktemp("batch")
    rows = {row["id"]: row for row in map(json.loads, (ROOT / "assets" / "questions.jsonl").read_text().splitlines())}
    questions = root / "questions.jsonl"
    questions.write_text("".join(json.dumps(rows[i]) + "\n" for i in BATCH_IDS))
    http_port, grpc_port = free_ports(2)
    env = {**os.environ, "ARENA_DATA_DIR": str(root / "data"), "ARENA_WEAVIATE_HTTP_PORT": str(http_port),
           "ARENA_WEAVIATE_GRPC_PORT": str(grpc_port), "ARENA_MAX_NEW_TOKENS": "16"}
    out = root / "report"
    run = subprocess.run([sys.executable, "-m", "pipelines.evaluation", "--questions", str(questions),
                          "--limit", str(len(BATCH_IDS)), "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return root / "data", out, questions


def test_batch_report_matches_the_stored_scores(batch_run):
    data_dir, out, questions = batch_run
    unanswerable = {item.question for item in load_questions(questions) if not item.answerable}
    with (out / "scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len({r["question"] for r in rows}) == len(BATCH_IDS)
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        stored = {(e, p, m): v for e, p, m, v in db.execute("SELECT exchange_id, pipeline, metric, value FROM scores")}
    assert len(stored) == len(rows)
    for row in rows:
        value = stored[(row["exchange_id"], row["pipeline"], row["metric"])]
        assert (value is None and row["value"] == "") or abs(value - float(row["value"])) < 1e-9

    summary = (out / "summary.md").read_text()
    ok = [r for r in rows if r["status"] == "ok" and r["pipeline"] == "rag" and r["metric"] == "semantic_similarity"]
    mean = sum(float(r["value"]) for r in ok) / len(ok)
    assert f"| rag | semantic_similarity | {mean:.3f} | {len(ok)} |" in summary
    assert "finetuned / non_llm_context_recall: this pipeline retrieves no context" in summary
    assert "LLM-judged metrics skipped" in summary  # no judge configured: said, not silently left out
    assert all(r["scorer"].startswith("ragas-") for r in rows)
    page = (out / "summary.html").read_text()
    assert "semantic_similarity" in page and f"{mean:.3f}" in page and "<table" in page
    samples = [json.loads(line) for line in (out / "dataset.jsonl").read_text().splitlines()]
    assert len(samples) == 4 * len(BATCH_IDS)
    assert {s["pipeline"] for s in samples} == {"base", "rag", "finetuned", "rag_finetuned"}
    # correctness first: each answer's key fact and token F1, and the summary's accuracy table matches them (an
    # out-of-corpus answer's key fact is whether it abstained; n/a only for an empty answer)
    facts = [r for r in rows if r["metric"] == "key_fact" and r["pipeline"] == "rag"]
    assert len(facts) == len(BATCH_IDS)
    assert all(r["status"] == "ok" and r["value"] in ("0.0", "1.0") for r in facts if r["question"] not in unanswerable)
    counted = [float(r["value"]) for r in facts if r["status"] == "ok"]
    assert f"| rag | {sum(counted) / len(counted):.0%} [" in summary and "| base |" in summary
    assert {r["metric"] for r in rows if r["pipeline"] == "finetuned" and r["status"] == "ok"} >= {"key_fact",
                                                                                                  "token_f1"}
    assert any(r["pipeline"] == "rag_finetuned" and r["metric"] == "non_llm_context_recall" and r["status"] == "ok"
               for r in rows)  # the third column retrieves, so its context metrics are computed
    assert all(s["reference"] for s in samples)
    from ragas import EvaluationDataset

    dataset = EvaluationDataset.from_jsonl(out / "ragas_dataset.jsonl")
    assert [s.user_input for s in dataset.samples] == [s["user_input"] for s in samples if not s["error"]]


def _expected_cell(count: int, n: int) -> str:
    """A count and its share as the verdict writes them (:class:`pipelines.evaluation.slices.Measure`)."""
    share = str(proportion_interval(count, n)) if n >= MIN_SLICE_ANSWERS else f"too few (n={n})"
    return f"{count} of {n} · {share}"


def test_the_verdict_matches_the_stored_answers(batch_run):
    """verdict.html's numbers, recomputed from the SQLite store's answers with the rule the verdict states: right
    when the key is in an answer that does not decline; on an out-of-corpus question, right when it abstains."""
    data_dir, out, questions = batch_run
    page_file = out / "verdict.html"
    assert page_file.is_file() and (out / "verdict.md").is_file()
    page, markdown = page_file.read_text(), (out / "verdict.md").read_text()
    items = {item.question: item for item in load_questions(questions)}
    with sqlite3.connect(data_dir / "feedback.sqlite3") as db:
        answers = db.execute("SELECT e.id, e.question, a.pipeline, a.answer, a.error FROM answers a "
                             "JOIN exchanges e ON e.id = a.exchange_id").fetchall()
        stored_facts = {(e, p): (v, status) for e, p, v, status in db.execute(
            "SELECT exchange_id, pipeline, value, status FROM scores WHERE metric = 'key_fact'")}
    assert {question for _e, question, *_ in answers} == set(items)  # the run's exchanges, nothing else

    right: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = {}
    for exchange_id, question, pipeline, answer, error in answers:
        if error:
            continue
        item = items[question]
        correct = answer_correct(answer, item.keys, answerable=item.answerable)
        if correct is not None:
            right[pipeline] += correct
            checked[pipeline] += 1
        if not item.answerable:
            outcome = out_of_corpus_outcome(answer)
            outcomes.setdefault(pipeline, Counter())[outcome] += 1
            # the stored score says the same as the verdict: 1 for an abstention, 0 for a made-up answer
            value, status = stored_facts[(exchange_id, pipeline)]
            assert (status, value) == (("n/a", None) if outcome == NO_ANSWER else ("ok", float(outcome == ABSTAINED)))
    assert set(checked) == {"base", "rag", "finetuned", "rag_finetuned"}

    for pipeline, n in checked.items():  # accuracy per approach: the interval on the page and in verdict.md
        accuracy = str(proportion_interval(right[pipeline], n)) if n >= MIN_SLICE_ANSWERS else f"too few (n={n})"
        assert html.escape(accuracy) in page, (pipeline, accuracy)
        assert f"| {label(pipeline)} | {accuracy} |" in markdown, (pipeline, accuracy)
    assert f"{len(BATCH_IDS)} of {len(BATCH_IDS)} questions answered" in page  # every question of the run

    assert "1 question(s) no document answers" in page
    for pipeline, found in outcomes.items():  # the out-of-corpus row: abstained and made up, counted
        n = found[ABSTAINED] + found[MADE_UP]
        said, made = _expected_cell(found[ABSTAINED], n), _expected_cell(found[MADE_UP], n)
        if n:
            assert f"| {label(pipeline)} | {said} | {made} |" in markdown, (pipeline, markdown)
            assert html.escape(said) in page and html.escape(made) in page
    # and the per-question table shows each column's outcome on the out-of-corpus question
    unanswerable = next(question for question, item in items.items() if not item.answerable)
    row = re.search(rf"<tr><td>{re.escape(html.escape(unanswerable))}</td>.*?</tr>", page)
    assert row is not None
    assert row.group(0).count(">said so<") == sum(found[ABSTAINED] for found in outcomes.values())
    assert row.group(0).count(">made up<") == sum(found[MADE_UP] for found in outcomes.values())
