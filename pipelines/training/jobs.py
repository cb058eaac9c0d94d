"""Training in the background: one job at a time, in its own process, so the arena keeps answering.

A job runs ``python -m pipelines.training`` as a child process writing a JSON-lines progress
file. The adapter is written to ``<name>.partial`` and renamed only when complete, so a job
that is cancelled or killed never shows up in the registry and never replaces the adapter
that is serving. A second start while a job runs is refused (not queued, not interleaved).

Example::

    jobs = TrainingJobs(settings)
    job = jobs.start(Path("data/documents/Docs"), TrainingConfig(max_steps=20))
    jobs.current().progress()   # steps, losses, ETA
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipelines.common.settings import PROJECT_ROOT, Settings
from pipelines.training.config import TrainingConfig, partial_path


class TrainingBusy(RuntimeError):
    """Another training job is running; the message names it."""


@dataclass
class TrainingProgress:
    step: int = 0
    max_steps: int = 0
    epoch: float = 0.0
    elapsed_s: float = 0.0
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, train loss)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)

    @property
    def eta_s(self) -> float | None:
        if self.step <= 0 or self.max_steps <= 0:
            return None
        return self.elapsed_s / self.step * max(self.max_steps - self.step, 0)


def read_progress(path: Path) -> TrainingProgress:
    """Parse a progress file written by :class:`pipelines.training.sft.ProgressFile` (a torn last line is skipped)."""
    progress = TrainingProgress()
    if not path.exists():
        return progress
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        progress.max_steps = int(row.get("max_steps") or progress.max_steps)
        progress.elapsed_s = float(row.get("elapsed_s") or progress.elapsed_s)
        if "step" in row:
            progress.step = max(progress.step, int(row["step"]))
            progress.epoch = float(row.get("epoch") or progress.epoch)
        if "loss" in row:
            progress.losses.append((int(row["step"]), float(row["loss"])))
        if "eval_loss" in row:
            progress.eval_losses.append((int(row["step"]), float(row["eval_loss"])))
    return progress


@dataclass
class TrainingJob:
    job_id: str
    output_dir: Path
    progress_file: Path
    log_file: Path
    process: subprocess.Popen
    status: str = "running"  # running | done | failed | cancelled
    error: str = ""
    started_at: float = field(default_factory=time.time)

    def progress(self) -> TrainingProgress:
        return read_progress(self.progress_file)

    def log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class TrainingJobs:
    def __init__(self, settings: Settings, python: str = sys.executable) -> None:
        self.settings = settings
        self.python = python
        self.adapters_dir = settings.data_dir / "adapters"
        self._job: TrainingJob | None = None
        self._lock = threading.Lock()

    def current(self) -> TrainingJob | None:
        return self._job

    def start(self, docs_dir: Path | None, config: TrainingConfig, *, use_questions: bool = False,
              eval_fraction: float = 0.1, name: str = "adapter", dataset: Path | None = None) -> TrainingJob:
        """Start training on ``dataset`` (pairs) or the documents of ``docs_dir``; refused while a job runs."""
        with self._lock:
            if self._job is not None and self._job.status == "running":
                raise TrainingBusy(f"Training job {self._job.job_id} is still running: wait for it or cancel it.")
            if dataset is None and (docs_dir is None or not docs_dir.is_dir() or not any(docs_dir.iterdir())):
                raise ValueError(f"No documents to train on in {docs_dir}: ingest some in the Knowledge tab first.")
            job_id = f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
            output = self.adapters_dir / job_id
            self.adapters_dir.mkdir(parents=True, exist_ok=True)
            progress_file = self.adapters_dir / f".{job_id}.progress.jsonl"
            log_file = self.adapters_dir / f".{job_id}.log"
            command = [
                self.python, "-m", "pipelines.training", *(["--dataset", str(dataset)] if dataset else
                                                           ["--docs", str(docs_dir)]), "--output", str(output),
                "--progress-file", str(progress_file), "--rank", str(config.rank), "--alpha", str(config.alpha),
                "--dropout", str(config.dropout), "--lr", str(config.learning_rate), "--epochs", str(config.epochs),
                "--max-steps", str(config.max_steps), "--batch-size", str(config.batch_size),
                "--grad-accumulation", str(config.grad_accumulation), "--max-length", str(config.max_length),
                "--eval-fraction", str(eval_fraction), "--model-id", self.settings.model_id,
                "--recipe", config.recipe,
            ]
            if not use_questions:
                command.append("--no-questions")
            if not config.four_bit:
                command.append("--no-4bit")
            with log_file.open("w") as log:
                process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
            self._job = TrainingJob(job_id, output, progress_file, log_file, process)
            threading.Thread(target=self._watch, args=(self._job,), daemon=True).start()
            return self._job

    def _watch(self, job: TrainingJob) -> None:
        code = job.process.wait()
        with self._lock:
            if job.status == "cancelled":
                return
            if code == 0 and (job.output_dir / "adapter_config.json").exists():
                job.status = "done"
            else:
                job.status = "failed"
                job.error = f"training exited with code {code}: {job.log_tail(3)}"
                shutil.rmtree(partial_path(job.output_dir), ignore_errors=True)

    def cancel(self) -> bool:
        """Stop the running job (its partial adapter is removed); False when none runs."""
        with self._lock:
            job = self._job
            if job is None or job.status != "running":
                return False
            job.status = "cancelled"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.process.pid, signal.SIGKILL)
        job.process.wait()
        shutil.rmtree(partial_path(job.output_dir), ignore_errors=True)
        return True

    def wait(self, timeout: float | None = None) -> TrainingJob | None:
        job = self._job
        if job is not None:
            job.process.wait(timeout)
            deadline = time.monotonic() + 5
            while job.status == "running" and time.monotonic() < deadline:  # the watcher thread finishes up
                time.sleep(0.05)
        return job
