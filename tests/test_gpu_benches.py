"""The GPU-box benchmarks run end to end here on a tiny model shape (random weights), through the real commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def run_bench(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def ratio(output: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s*:\s*([0-9.]+)", output)
    assert match, output
    return float(match.group(1))


def test_qlora_vs_lora_trains_both_ways_through_the_training_command():
    out = run_bench("qlora_vs_lora.py", "--shape", "tiny-qwen2", "--steps", "3", "--batch-size", "2",
                    "--max-length", "96", "--rank", "4")
    qlora = next(line for line in out.splitlines() if line.strip().startswith("qlora "))
    lora = next(line for line in out.splitlines() if line.strip().startswith("lora "))
    assert "4-bit NF4 (QLoRA)" in qlora
    assert "float32 (LoRA)" in lora and "fallback" not in lora  # asked for, not fallen back to
    assert "tiny-qwen2 (random weights) on cpu, 3 steps" in out
    # the ratios are the two runs' own figures divided (not a constant or a mix-up of the two modes)
    speed = {name: float(re.search(r"steps/s ([0-9.]+)", line).group(1)) for name, line in (("q", qlora), ("l", lora))}
    peak = {name: float(re.search(r"\(MiB\)\s+([0-9.]+)", line).group(1)) for name, line in (("q", qlora), ("l", lora))}
    assert all(value > 0 for value in (*speed.values(), *peak.values())), out
    assert ratio(out, "steps/s ratio     QLoRA / LoRA") == pytest.approx(speed["q"] / speed["l"], rel=0.03, abs=0.01)
    assert ratio(out, "peak memory ratio QLoRA / LoRA") == pytest.approx(peak["q"] / peak["l"], rel=0.01, abs=0.01)


def test_decode_columns_batches_a_random_shape_with_a_random_adapter(healthy_gpu_check):
    """``python bench/decode_columns.py --shape tiny-qwen2 --prompts 1 --tokens 4 --rounds 1``, as the healthy
    gpu_check's decode step ran it (GPU_DECODE_ARGS): its whole output, from the log the step keeps."""
    done, results = healthy_gpu_check
    out = (results / "decode_columns.log").read_text()
    assert "decode_columns: FAILED" not in done.stdout and "decode_columns: TIMED OUT" not in done.stdout, out
    assert "decode_columns: tiny-qwen2 (4-bit NF4) on cpu, 1 prompts, up to 4 new tokens, median of 1 rounds" in out, (
        done.stdout[-3000:] + out[-3000:])
    wall = {mode: float(value) for mode, value in re.findall(r"(\w+) ([0-9.]+)", out.split("median seconds:")[1]
                                                                           .splitlines()[0])}
    assert set(wall) == {"rag", "finetuned", "both", "three"} and all(v > 0 for v in wall.values()), out
    one = max(wall["rag"], wall["finetuned"])
    assert ratio(out, "wall time   two / slower single column") == round(wall["both"] / one, 2)
    assert ratio(out, "wall time   three / slower single column") == round(wall["three"] / one, 2)


def test_a_random_adapter_changes_the_answer(tmp_path):
    sys.path.insert(0, str(ROOT))
    from bench.decode_columns import random_adapter
    from bench.qlora_vs_lora import SHAPES, build_random_model
    from pipelines.common.settings import Settings
    from pipelines.generation.models import ModelBackend
    from pipelines.generation.requests import GenerationRequest

    settings = Settings(data_dir=tmp_path / "data")
    model_dir = build_random_model(SHAPES / "tiny-qwen2.json", tmp_path)  # the offline model's tokenizer
    backend = ModelBackend.load(settings.model_copy(update={"model_id": str(model_dir), "quantization": "none"}))
    backend.load_adapter(random_adapter(model_dir, tmp_path / "adapter"))
    messages = [{"role": "user", "content": "Who founded Lumenhollow?"}]
    texts = ["", ""]
    for row, delta in backend.stream([GenerationRequest(messages), GenerationRequest(messages, "finetuned")], 8):
        texts[row] += delta or ""
    assert texts[0] != texts[1]


def run_gpu_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """``scripts/gpu_check.sh`` as the device tool runs it, here on the CPU with the tiny shape (a dry run)."""
    import os

    environment = {**os.environ, "OUT": str(tmp_path / "results"), "GPU_SHAPES": "tiny-qwen2",
                   "GPU_TRAIN_STEPS": "2", "GPU_DECODE_ARGS": "--prompts 1 --tokens 4 --rounds 1",
                   "GPU_BATCH_TOKENS": "8", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}
    return subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def healthy_gpu_check(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One healthy dry run of the decode step, read by two tests: the run, and the folder of the logs it keeps of
    each step (its decode step is ``python bench/decode_columns.py``, its output in full). Its batch-row step is
    the failing run's last one (float32: no 4-bit kernel in it), which must pass there."""
    tmp_path = tmp_path_factory.mktemp("gpu-check")
    return run_gpu_check(tmp_path, GPU_STEPS="decode"), tmp_path / "results"


def test_gpu_check_compares_every_mixed_batch_row_with_the_row_alone(healthy_gpu_check, failing_gpu_check):
    done, _ = healthy_gpu_check
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "decode_columns: tiny-qwen2 (4-bit NF4)" in done.stdout
    assert done.stdout.rstrip().endswith("gpu_check: every step passed")
    versions = re.search(r"^torch \S+ cuda \S+ transformers \S+ peft \S+ bitsandbytes \S+$", done.stdout, re.M)
    assert versions and (healthy_gpu_check[1] / "versions.txt").read_text().strip() == versions.group(0)
    rows = failing_gpu_check.stdout  # its batch-row step passed: the failed steps it names are the other two
    assert rows.rstrip().endswith("gpu_check: FAILED: qlora_vs_lora-tiny-qwen2 decode_columns"), rows[-3000:]
    assert "rows equal to the row decoded alone: 12 of 12" in rows  # 4 questions x 3 columns, one batch
    assert re.search(r"batch_rows: tiny-qwen2 .* 12 rows in one mixed-adapter batch \(8 on the adapter\)", rows)


@pytest.fixture(scope="module")
def failing_gpu_check(tmp_path_factory) -> subprocess.CompletedProcess:
    """One run, three steps: training crashes (a bad argument), decoding runs with bitsandbytes installed but its
    4-bit kernels failing (as on hardware it does not support: the loaders fall back to full precision with a
    warning), and the float32 batch check after them, read by two tests."""
    tmp_path = tmp_path_factory.mktemp("gpu-check-broken")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sitecustomize.py").write_text(
        "import bitsandbytes.functional\n\n\n"
        "def unavailable(*args, **kwargs):\n"
        "    raise RuntimeError('no 4-bit kernels for this device')\n\n\n"
        "bitsandbytes.functional.quantize_4bit = unavailable\n")
    return run_gpu_check(tmp_path, GPU_STEPS="train decode batch_rows", GPU_TRAIN_STEPS="not-a-number",
                         PYTHONPATH=str(broken))


def test_gpu_check_fails_a_crashed_step_and_a_silent_4bit_fall_back_and_still_runs_the_others(failing_gpu_check):
    """The failing run: the steps after the crash still run, the batch check passes; the run fails and names the
    crashed and the fallen-back steps."""
    done = failing_gpu_check
    assert done.returncode == 1, done.stdout[-3000:]
    assert "qlora_vs_lora-tiny-qwen2: FAILED (exit 2)" in done.stdout
    assert "decode_columns: FAILED: 4-bit NF4 was asked for, the model ran in full precision" in done.stdout
    assert "rows equal to the row decoded alone: 12 of 12" in done.stdout  # the last step ran
    assert done.stdout.rstrip().endswith("gpu_check: FAILED: qlora_vs_lora-tiny-qwen2 decode_columns")
