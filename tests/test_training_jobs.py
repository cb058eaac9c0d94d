"""Background training jobs and the adapter registry: real training processes on the offline model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pandas as pd
import pytest

from components.finetune import registry_frame
from pipelines.training.config import METADATA_FILE, TrainingConfig, partial_path
from pipelines.training.jobs import TrainingBusy, TrainingJobs, read_progress
from pipelines.training.registry import AdapterError, activate, list_adapters, validate_adapter

FACTS = "# Zorblat vault\nThe Zorblat vault code is 7741-Quince.\n## Guard\nOttoline Marsh guards the Zorblat vault."


@pytest.fixture()
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "vault.md").write_text(FACTS)
    return folder


def test_registry_lists_complete_adapters_and_refuses_damaged_ones(test_settings, backend, tmp_path):
    folder = tmp_path / "adapters"
    good = folder / "good"
    shutil.copytree(test_settings.adapter_path, good)
    truncated = folder / "truncated"
    shutil.copytree(good, truncated)
    weights = truncated / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    no_config = folder / "no-config"
    shutil.copytree(good, no_config)
    (no_config / "adapter_config.json").unlink()
    shutil.copytree(good, folder / "unfinished.partial")

    assert [a.name for a in list_adapters([folder])] == ["good"]
    with pytest.raises(AdapterError, match="truncated"):
        validate_adapter(truncated)
    with pytest.raises(AdapterError, match=r"adapter_config\.json"):
        validate_adapter(no_config)

    serving = backend.adapter_ids["finetuned"]
    with pytest.raises(AdapterError, match="truncated"):
        activate(backend, truncated)
    assert backend.adapter_ids["finetuned"] == serving  # the damaged one never replaced what serves


def test_a_background_job_trains_registers_and_refuses_a_second_one(test_settings, docs, tmp_path):
    jobs = TrainingJobs(test_settings.model_copy(update={"data_dir": tmp_path}))
    # every pair in each batch (full-batch steps), so the loss falls step by step, whatever the shuffle; one
    # epoch in the run's order, so a batch holds each pair once (the run feeds all its epochs in one pass: with
    # several, a batch of 32 would repeat each of the six pairs, several times the tokens a step for the same check)
    config = TrainingConfig(max_steps=4, epochs=1.0, batch_size=32, learning_rate=3e-3, recipe="closed-book",
                            docs=docs, questions=None)
    job = jobs.start(config)
    with pytest.raises(TrainingBusy, match="still running"):
        jobs.start(TrainingConfig(max_steps=2, docs=docs, questions=None))
    jobs.wait(600)
    assert job.status == "done", job.log_tail()
    progress = job.progress()
    assert progress.step == 4 and progress.max_steps == 4 and len(progress.losses) == 4
    assert progress.losses[-1][1] < progress.losses[0][1]
    assert progress.estimate is None   # four micro-batches: started at once, no warm-up and no estimate told
    (registered,) = list_adapters([tmp_path / "adapters"])
    assert registered.path == job.output_dir and registered.steps == 4 and "4-bit" in registered.quantization
    assert registered.steps_per_s > 0 and registered.peak_gpu_memory_mb is None  # CPU: no GPU peak to show
    (row,) = registry_frame([registered]).to_dict("records")
    assert row["steps/s"] == round(registered.steps_per_s, 3) and pd.isna(row["peak GPU MiB"])


def test_registry_shows_speed_and_gpu_memory_and_ignores_odd_values(test_settings, tmp_path):
    folder = tmp_path / "adapters"
    for name, speed, memory in (("gpu-run", 2.5, 5120.4), ("odd", "fast", True)):
        shutil.copytree(test_settings.adapter_path, folder / name)
        meta_file = folder / name / METADATA_FILE
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "steps_per_s": speed, "peak_gpu_memory_mb": memory,
                                         "created_at": f"2026-11-30T10:00:0{len(name)}"}))
    rows = {row["adapter"]: row for row in registry_frame(list_adapters([folder])).to_dict("records")}
    assert rows["gpu-run"]["steps/s"] == 2.5 and rows["gpu-run"]["peak GPU MiB"] == 5120
    assert pd.isna(rows["odd"]["steps/s"]) and pd.isna(rows["odd"]["peak GPU MiB"])  # an empty cell


def test_a_killed_or_cancelled_job_registers_nothing(test_settings, docs, tmp_path):
    jobs = TrainingJobs(test_settings.model_copy(update={"data_dir": tmp_path}))
    job = jobs.start(TrainingConfig(max_steps=500, batch_size=2, docs=docs, questions=None))
    wait_until_mid_run(job)
    os.killpg(job.process.pid, signal.SIGKILL)  # the worker dies mid-run, as in a crash or an OOM kill
    jobs.wait(60)
    assert job.status == "failed" and "-9" in job.error
    assert list_adapters([tmp_path / "adapters"]) == []
    assert not job.output_dir.exists() and not partial_path(job.output_dir).exists()

    # Cancelled mid-run: steps logged and the half-written .partial folder on disk, then Cancel.
    second = jobs.start(TrainingConfig(max_steps=500, batch_size=2, docs=docs, questions=None))
    wait_until_mid_run(second)
    assert partial_path(second.output_dir).is_dir()
    assert jobs.cancel() and second.status == "cancelled"
    assert second.process.poll() is not None  # the worker is gone, not left training in the background
    assert not partial_path(second.output_dir).exists() and not second.output_dir.exists()
    assert list_adapters([tmp_path / "adapters"]) == [] and jobs.cancel() is False


def wait_until_mid_run(job, timeout_s: float = 300) -> None:
    """Until the job has logged a training step and written its .partial folder (the model is loaded)."""
    deadline = time.monotonic() + timeout_s
    while not (job.progress().losses and partial_path(job.output_dir).is_dir()):
        assert time.monotonic() < deadline and job.status == "running", job.log_tail()
        time.sleep(0.5)


def test_progress_file_parsing_skips_a_torn_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"event": "start", "max_steps": 10, "elapsed_s": 0}\n'
                    '{"step": 2, "max_steps": 10, "epoch": 0.5, "elapsed_s": 4.0, "loss": 3.0}\n'
                    '{"step": 2, "max_steps": 10, "epoch": 0.5, "elapsed_s": 4.5, "eval_loss": 3.5}\n{"step": 3, "lo')
    progress = read_progress(path)
    assert progress.losses == [(2, 3.0)] and progress.eval_losses == [(2, 3.5)]
    assert progress.eta_s == pytest.approx(4.5 / 2 * 8)
