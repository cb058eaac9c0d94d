"""Training pairs from files: row-numbered cleaning, and the command line training on such a file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from pipelines.training.config import METADATA_FILE
from pipelines.training.data import DatasetError, load_pairs
from tests.conftest import ROOT


def jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_bad_rows_are_dropped_and_reported_by_row_number(tmp_path):
    path = jsonl(tmp_path / "pairs.jsonl", [
        {"question": "What is the Zorblat code?", "answer": "7741-Quince."},
        {"question": "Who guards it?", "answer": "   "},
        {"instruction": "Where is the vault?", "output": "Under the Quillmoor pier."},
        {"question": "x" * 5000, "answer": "long"},
        {"question": "what is the zorblat code?", "answer": "again"},
        {"text": "no pair here"},
    ])
    report = load_pairs(path)
    assert [e.question for e in report.examples] == ["What is the Zorblat code?", "Where is the vault?"]
    assert report.dropped == {2: "empty answer", 4: "longer than 4000 characters", 5: "duplicate question",
                              6: "no question/answer columns"}
    assert "row 2: empty answer" in report.summary()

    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("question,answer\nWhat is the Zorblat code?,7741-Quince.\n,orphan answer\n")
    assert load_pairs(csv_file).dropped == {2: "empty question"}


def test_unusable_files_are_refused_with_the_reason(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "a", "answer": "b"}\n{not json\n')
    with pytest.raises(DatasetError, match="Line 2 is not valid JSON"):
        load_pairs(broken)
    with pytest.raises(DatasetError, match="no usable pairs"):
        load_pairs(jsonl(tmp_path / "empty.jsonl", [{"question": "", "answer": ""}]))
    with pytest.raises(DatasetError, match=r"\.jsonl or \.csv"):
        load_pairs(tmp_path / "pairs.txt")


def test_command_line_trains_on_a_dataset_file(tmp_path):
    dataset = jsonl(tmp_path / "pairs.jsonl", [
        {"question": "What is the Zorblat code?", "answer": "The Zorblat code is 7741-Quince."},
        {"question": "Who guards the Zorblat vault?", "answer": "Ottoline Marsh guards it."},
        {"question": "Empty?", "answer": ""},
    ])
    output = tmp_path / "adapter"
    done = subprocess.run([sys.executable, "-m", "pipelines.training", "--dataset", str(dataset), "--output",
                           str(output), "--max-steps", "3", "--batch-size", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "row 3: empty answer" in done.stdout and "Training on 2 examples" in done.stdout
    meta = json.loads((output / METADATA_FILE).read_text())
    assert meta["steps"] == 3 and meta["examples"] == 2 and (output / "adapter_model.safetensors").is_file()
    assert meta["steps_per_s"] > 0 and f"Speed: {meta['steps_per_s']} steps/s" in done.stdout
    assert (meta["peak_gpu_memory_mb"] is None) == (not torch.cuda.is_available())  # GPU runs report it
