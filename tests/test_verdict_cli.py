"""``python -m pipelines.evaluation``'s arguments (batch, verdict, ``--stored``) and the ``verdict --stored`` run,
which opens only the feedback store: no model, no Weaviate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.common.events import PipelineResult, Timings
from pipelines.evaluation.__main__ import parse_args, stored_verdict
from pipelines.evaluation.verdict import VERDICT_HTML
from pipelines.feedback.store import FeedbackStore


def test_the_command_line_arguments():
    args = parse_args([])
    assert (args.command, args.questions, args.out, args.limit, args.stored) == (
        "batch", None, Path("reports/latest"), None, False)
    args = parse_args(["verdict", "--questions", "q.jsonl", "--out", "out", "--limit", "3"])
    assert (args.command, args.questions, args.out, args.limit) == ("verdict", Path("q.jsonl"), Path("out"), 3)
    assert parse_args(["--limit", "3", "--out", "r"]).command == "batch"  # the batch test's form still works
    assert parse_args(["verdict", "--stored"]).out == Path("reports/verdict")
    for wrong in (["--stored"], ["batch", "--stored"], ["--limit", "0"], ["judge"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)


def test_the_stored_verdict_command_opens_only_the_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    for i in range(3):
        store.add_scores(store.record_exchange("s", f"Question {i}?", [
            PipelineResult("rag", "It is 42.", timings=Timings(0.1, 1.0)),
            PipelineResult("finetuned", "It is 7.", timings=Timings(0.1, 1.0))]),
            [{"pipeline": "rag", "metric": "key_fact", "value": 1.0, "status": "ok"}], "r")
    store.close()
    questions_file = tmp_path / "set.jsonl"
    questions_file.write_text("".join(json.dumps({"question": f"Question {i}?", "key": "42"}) + "\n"
                                      for i in range(4)))
    assert stored_verdict(questions_file, tmp_path / "out") == 0
    printed = capsys.readouterr().out
    assert "# Verdict: set.jsonl" in printed and "3 of 4 questions" in printed
    assert "| RAG | too few (n=3) |" in printed and (tmp_path / "out" / VERDICT_HTML).is_file()
    (tmp_path / "bad.jsonl").write_text("not json\n")
    assert stored_verdict(tmp_path / "bad.jsonl", tmp_path / "out2") == 2


def test_the_stored_verdict_names_the_set_as_the_app_does(tmp_path, monkeypatch, capsys):
    """``verdict --stored`` without ``--questions`` builds on the set chosen in the Questions tab, not the start-up
    file, and names it with its content hash and training overlap (the app's label); with ``--questions`` the file's
    name carries its hash too, so a verdict always says which exact questions it counted."""
    from pipelines.evaluation.saved_question_sets import SavedQuestionSets, content_hash

    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    startup = tmp_path / "startup.jsonl"
    startup.write_text(json.dumps({"question": "Start-up question?", "key": "1"}) + "\n")
    monkeypatch.setenv("ARENA_QUESTIONS_FILE", str(startup))
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    for i in range(2):
        store.add_scores(store.record_exchange("s", f"Harbour question {i}?", [
            PipelineResult("rag", "It is 42.", timings=Timings(0.1, 1.0))]),
            [{"pipeline": "rag", "metric": "key_fact", "value": 1.0, "status": "ok"}], "r")
    store.close()
    sets = SavedQuestionSets(tmp_path, startup_file=startup)
    saved = sets.save("Harbour", [{"id": f"gen-{i}", "question": f"Harbour question {i}?", "key": "42",
                                   "reference": "It is 42."} for i in range(3)], meta={"max_training_overlap": 0.5})
    sets.choose("Harbour")

    assert stored_verdict(None, tmp_path / "chosen") == 0
    printed = capsys.readouterr().out
    assert (f"# Verdict: Harbour (sha256 {saved.content_hash[:12]}, highest word overlap with training questions "
            f"0.50)") in printed
    assert "2 of 3 questions" in printed

    assert stored_verdict(startup, tmp_path / "given") == 0
    assert f"# Verdict: startup.jsonl (sha256 {content_hash(startup)[:12]})" in capsys.readouterr().out
