"""bench/answer_quality.py end to end (its own managed Weaviate, the real model, the arena's path): the table
it prints agrees with the answers it wrote, and only the sample set's held-out split is asked."""

import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

from pipelines.common.abstention import out_of_corpus_outcome
from pipelines.common.correctness import key_present, proportion_interval
from pipelines.common.questions import QuestionItem
from pipelines.knowledge.weaviate_server import free_ports
from tests.conftest import APP_ENGINE, ROOT


def test_answer_quality_table_matches_its_answers(tmp_path):
    http_port, grpc_port = free_ports(2)
    # The bench starts the app's runtime, so it runs the engine a user's run gets, as the app tests do (conftest)
    env = {**os.environ, "ARENA_ENGINE": APP_ENGINE, "ARENA_WEAVIATE_HTTP_PORT": str(http_port),
           "ARENA_WEAVIATE_GRPC_PORT": str(grpc_port)}
    out = tmp_path / "answers.jsonl"
    run = subprocess.run([sys.executable, "bench/answer_quality.py", "--sets", "sample", "--limit", "3",
                          "--columns", "base,rag", "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert {a["column"] for a in answers} == {"base", "rag"} and len(answers) == 6
    test_split = {json.loads(line)["question"] for line in (ROOT / "assets" / "questions.jsonl").read_text()
                  .splitlines() if json.loads(line)["split"] == "test"}
    assert {a["question"] for a in answers} <= test_split  # never a question the adapter trained on
    for answer in answers:
        if answer["answerable"]:
            assert answer["correct"] == float(key_present(answer["answer"], answer["keys"]))
        else:
            assert answer["correct"] is None and answer["outcome"] == out_of_corpus_outcome(answer["answer"])
    rag = [a for a in answers if a["column"] == "rag"]
    row = next(line for line in run.stdout.splitlines() if line.startswith("| sample (3) | default | rag |"))
    assert str(proportion_interval(sum(a["correct"] for a in rag), 3)) in row
    hits = sum(a["hit_k"] for a in rag)
    assert re.search(rf"\| {re.escape(str(proportion_interval(hits, 3)))} \|", row), row


def _context(*chunks: tuple[str, int], in_prompt: tuple[int, ...] | None = None) -> SimpleNamespace:
    """A ContextEvent's shape: the retrieved chunks (text, rank) and the ranks that went into the prompt."""
    return SimpleNamespace(chunks=[SimpleNamespace(text=text, rank=rank) for text, rank in chunks],
                           in_prompt=in_prompt)


def test_out_of_corpus_answers_are_counted_apart_from_accuracy():
    """Key-fact accuracy, F1 and the hits stay over answerable questions (docs/evaluation.md's numbers stay comparable);
    an out-of-corpus answer counts only as abstained or made up (an empty one in neither)."""
    from bench.answer_quality import ColumnTally, count_share, set_label, table_rows, tally_answer

    weigh = QuestionItem("How heavy is the T4?", "It weighs 380 grams.", ("380 grams",), "t4.md", "test", "q05")
    cfo = QuestionItem("Who is the CFO?", "The documents do not say.", (), "", "test", "q31", "out-of-corpus")
    cat = QuestionItem("What is the office cat called?", "The documents do not say.", (), "", "test", "q29",
                       "out-of-corpus")
    rag, base = ColumnTally(), ColumnTally()
    passages = _context(("The T4 weighs 380 grams.", 1), ("Pim is a heron.", 2), in_prompt=(1,))
    record = tally_answer(rag, weigh, "It weighs 380 grams.", passages)
    assert (record["correct"], record["hit_k"], record["hit_prompt"], record["answerable"]) == (1.0, 1.0, 1.0, True)
    record = tally_answer(rag, cfo, "The documents do not say who the CFO is.", passages)
    assert (record["outcome"], record["correct"], record["keys"], record["hit_k"]) == ("abstained", None, [], None)
    assert tally_answer(rag, cat, "The cat is called Pim.", passages)["outcome"] == "made-up"
    tally_answer(base, weigh, "It weighs 5 kilos.")
    assert tally_answer(base, cfo, "", None)["outcome"] == "no answer"
    tally_answer(base, cat, "I don't know.")

    assert (rag.correct, rag.hit_k, rag.correct_given_hit, rag.abstained, rag.made_up) == ([1.0], [1.0], [1.0], 1, 1)
    assert (base.correct, base.hit_k, base.abstained, base.made_up) == ([0.0], [], 1, 0)
    assert set_label("sample", [weigh, cfo, cat]) == "sample (1 + 2 out-of-corpus)" and set_label("dev", [weigh]) == (
        "dev (1)")
    assert (count_share(1, 2), count_share(0, 0)) == ("1 of 2 (50%)", "–")
    rag_row, base_row = table_rows("sample (1 + 2 out-of-corpus)", "default", {"rag": rag, "base": base})
    one, none = proportion_interval(1, 1), proportion_interval(0, 1)
    assert rag_row == (f"| sample (1 + 2 out-of-corpus) | default | rag | {one} | 0.67 [0.67, 0.67] | {one} | {one} | "
                       f"{one} | 0 | 1 of 2 (50%) | 1 of 2 (50%) |")
    assert base_row == (f"| sample (1 + 2 out-of-corpus) | default | base | {none} | 0.00 [0.00, 0.00] | – | – | – | "
                        "0 | 1 of 1 (100%) | 0 of 1 (0%) |")
