"""Export round trip on a real SQLite store, loaded back with ``datasets``."""

import json
import subprocess
import sys

from datasets import load_dataset

from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.export import export_feedback
from pipelines.feedback.store import FeedbackStore
from tests.conftest import ROOT


def _exchange(store, question, rag="rag answer", ft="ft answer", ft_error=None):
    return store.record_exchange("s1", question, [
        PipelineResult("rag", rag, [], None, Timings(0.1, 1, 0.01, 3), "m"),
        PipelineResult("finetuned", ft, [], ft_error, Timings(0.1, 1, None, 3), "m", "adapter@1"),
    ])


def test_dpo_pairs_skip_ties_and_use_the_latest_vote(tmp_path):
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    changed = _exchange(store, "q1", rag="<b>R1</b>", ft="F1")
    store.add_vote(changed, "rag", session_id="s1")
    store.add_vote(changed, "finetuned", session_id="s1")  # changed mind: only this one counts
    store.add_vote(_exchange(store, "q2"), "tie", session_id="s1")
    store.add_vote(_exchange(store, "q3"), "both_bad", session_id="s1")
    store.add_vote(_exchange(store, "q4", ft="", ft_error="boom"), "rag", session_id="s1")
    _exchange(store, "never voted")

    result = export_feedback(store, tmp_path / "out")
    dpo = load_dataset("json", data_files=str(result.dpo_jsonl), split="train")
    assert dpo.num_rows == 1
    assert (dpo[0]["prompt"], dpo[0]["chosen"], dpo[0]["rejected"]) == ("q1", "F1", "<b>R1</b>")
    assert dpo[0]["chosen_adapter"] == "adapter@1"

    ratings = load_dataset("json", data_files=str(result.ratings_jsonl), split="train")
    labels = {(r["prompt"], r["pipeline"]): r["label"] for r in ratings}
    assert labels == {("q1", "rag"): False, ("q1", "finetuned"): True, ("q2", "rag"): True,
                      ("q2", "finetuned"): True, ("q3", "rag"): False, ("q3", "finetuned"): False,
                      ("q4", "rag"): True}


def test_empty_store_exports_empty_valid_files_from_the_command_line(tmp_path):
    db = tmp_path / "empty.sqlite3"
    FeedbackStore.open(db)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "pipelines.feedback", "export", "--db", str(db), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert "0 DPO pairs" in run.stdout
    for name in ("dpo.jsonl", "ratings.jsonl"):
        assert (out / name).read_text() == ""
    assert [json.loads(line) for line in (out / "dpo.jsonl").read_text().splitlines()] == []
