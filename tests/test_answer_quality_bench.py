"""bench/answer_quality.py end to end (its own managed Weaviate, the real model, the arena's path): the table
it prints agrees with the answers it wrote, and only the sample set's held-out split is asked."""

import json
import os
import re
import subprocess
import sys

from pipelines.common.correctness import key_present, proportion_interval
from pipelines.knowledge.weaviate_server import free_ports
from tests.conftest import ROOT


def test_answer_quality_table_matches_its_answers(tmp_path):
    http_port, grpc_port = free_ports(2)
    env = {**os.environ, "ARENA_WEAVIATE_HTTP_PORT": str(http_port), "ARENA_WEAVIATE_GRPC_PORT": str(grpc_port)}
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
        assert answer["correct"] == float(key_present(answer["answer"], answer["keys"]))
    rag = [a for a in answers if a["column"] == "rag"]
    row = next(line for line in run.stdout.splitlines() if line.startswith("| sample (3) | default | rag |"))
    assert str(proportion_interval(sum(a["correct"] for a in rag), 3)) in row
    hits = sum(a["hit_k"] for a in rag)
    assert re.search(rf"\| {re.escape(str(proportion_interval(hits, 3)))} \|", row), row
