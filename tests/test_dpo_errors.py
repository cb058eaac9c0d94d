"""DPO's error paths: no pairs file, empty pairs, malformed rows, no adapter. Each is a clear message (and, on the
command line, a non-zero exit with no traceback) given before any model is loaded. The successful run is
tests/test_dpo.py (a real, short DPO run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.training.dpo import read_pairs, train_dpo
from tests.conftest import ROOT

PAIR = {"prompt": "What colour is the T4 casing?", "chosen": "Heron Grey.", "rejected": "Bright red."}
NO_MODEL = "/nonexistent/model"  # a run that got as far as loading the model would fail on this path instead

BAD_PAIR_FILES = {
    "empty": ("", "holds no usable preference pairs (0 rows)"),
    "blank lines": ("\n  \n", "holds no usable preference pairs (0 rows)"),
    "no answers": (json.dumps({**PAIR, "chosen": "  "}) + "\n", "holds no usable preference pairs (1 rows)"),
    "broken JSON": (json.dumps(PAIR) + '\n{"prompt": "Q", "chosen": \n', "Line 2 is not valid JSON"),
    "not an object": (json.dumps(PAIR) + "\n" + json.dumps(["Q", "A", "B"]) + "\n",
                      "line 2 is not a preference pair: it needs text fields prompt, chosen, rejected"),
    "no prompt": (json.dumps({"chosen": "A", "rejected": "B"}) + "\n", "line 1 is not a preference pair"),
    "number answer": (json.dumps({**PAIR, "chosen": 4}) + "\n", "line 1 is not a preference pair"),
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("content", "message"), list(BAD_PAIR_FILES.values()), ids=list(BAD_PAIR_FILES))
def test_bad_pair_files_are_refused_with_the_reason(tmp_path, content, message):
    path = write(tmp_path / "dpo.jsonl", content)
    with pytest.raises(ValueError, match=r"dpo\.jsonl") as refused:
        read_pairs(path)
    assert message in str(refused.value)


def test_missing_and_binary_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"No pairs file at .*missing\.jsonl: export one"):
        read_pairs(tmp_path / "missing.jsonl")
    binary = tmp_path / "dpo.jsonl"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="cannot be read as UTF-8"):
        read_pairs(binary)


def test_good_rows_are_kept_and_answerless_ones_dropped(tmp_path):
    rows = [PAIR, {**PAIR, "prompt": "Second?", "rejected": ""}, {**PAIR, "prompt": "Third?", "extra": 1}]
    path = write(tmp_path / "dpo.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    assert [p["prompt"] for p in read_pairs(path)] == [PAIR["prompt"], "Third?"]


def test_train_dpo_refuses_before_loading_a_model(tmp_path):
    with pytest.raises(ValueError, match="No preference pairs yet"):
        train_dpo(NO_MODEL, tmp_path, [{**PAIR, "chosen": ""}], tmp_path / "out")
    with pytest.raises(ValueError, match="No adapter to improve"):
        train_dpo(NO_MODEL, tmp_path / "no-adapter", [PAIR], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.training.dpo", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "ARENA_MODEL_ID": NO_MODEL})


@pytest.mark.parametrize(("case", "message"), [
    ("missing file", "No pairs file at"),
    ("empty", "holds no usable preference pairs"),
    ("malformed", "line 1 is not a preference pair"),
    ("no adapter", "No adapter to improve at"),
])
def test_the_command_line_explains_and_exits_non_zero(tmp_path, case, message):
    pairs = {"missing file": tmp_path / "missing.jsonl",
             "empty": write(tmp_path / "empty.jsonl", ""),
             "malformed": write(tmp_path / "bad.jsonl", json.dumps({"chosen": "A", "rejected": "B"}) + "\n"),
             "no adapter": write(tmp_path / "dpo.jsonl", json.dumps(PAIR) + "\n")}[case]
    adapter = tmp_path / "no-adapter" if case == "no adapter" else ROOT / "assets" / "adapters" / "lumenhollow-qlora"
    started = time.monotonic()
    done = run_cli("--pairs", str(pairs), "--adapter", str(adapter), "--output", str(tmp_path / "out"))
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr
    assert "error: " in done.stderr.rstrip().splitlines()[-1]  # the reason is the last line, after the usage
    assert not (tmp_path / "out").exists()
    print(f"{case}: {elapsed:.1f} s")
