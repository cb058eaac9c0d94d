"""Training in the background: one job at a time, in its own process, so the arena keeps answering.

A job writes its :class:`TrainingConfig` to a JSON file and runs ``python -m pipelines.training --config FILE``
as a child process writing a JSON-lines progress file. The adapter is written to ``<name>.partial`` and
renamed only when complete, so a job that is cancelled or killed never shows up in the registry and never
replaces the adapter that is serving. A second start while a job runs is refused (not queued, not interleaved).

Example::

    jobs = TrainingJobs(settings)
    job = jobs.start(TrainingConfig(max_steps=20, docs=Path("data/documents/Docs"), questions=None))
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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from pipelines.common.documents import document_files
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
    estimate: dict | None = None  # pairs, steps, seconds: told after the warm-up, before the first step

    def estimate_text(self) -> str:
        """``"443 pairs, 666 steps, about 21 minutes"`` once the warm-up has measured it, else ``""``."""
        if not self.estimate:
            return ""
        seconds = float(self.estimate.get("seconds") or 0.0)
        about = f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} seconds"
        return f"{self.estimate.get('pairs')} pairs, {self.estimate.get('steps')} steps, about {about}"

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
        if row.get("event") == "estimate":
            progress.estimate = {key: row.get(key) for key in ("pairs", "steps", "seconds")}
    return progress


@dataclass
class TrainingJob:
    job_id: str
    output_dir: Path
    progress_file: Path
    log_file: Path
    process: subprocess.Popen
    config_file: Path | None = None  # the TrainingConfig the child process was started with
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


def training_command(python: str, config_file: Path, progress_file: Path) -> list[str]:
    """The child process's command line: every setting is in the config file."""
    return [python, "-m", "pipelines.training", "--config", str(config_file), "--progress-file", str(progress_file)]


class TrainingJobs:
    def __init__(self, settings: Settings, python: str = sys.executable) -> None:
        self.settings = settings
        self.python = python
        self.adapters_dir = settings.data_dir / "adapters"
        self._job: TrainingJob | None = None
        self._lock = threading.Lock()

    def current(self) -> TrainingJob | None:
        return self._job

    def start(self, config: TrainingConfig, *, name: str = "adapter") -> TrainingJob:
        """Start training as ``config`` says (its ``dataset``, else the documents of its ``docs``); refused while
        a job runs. The job chooses the output folder and, when the config names none, the settings' model."""
        with self._lock:
            if self._job is not None and self._job.status == "running":
                raise TrainingBusy(f"Training job {self._job.job_id} is still running: wait for it or cancel it.")
            docs = config.docs
            if config.dataset is None and (docs is None or not docs.is_dir() or not document_files(docs)):
                raise ValueError(f"No documents to train on in {docs}: ingest some in the Knowledge tab first.")
            job_id = f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
            output = self.adapters_dir / job_id
            run = replace(config, output=output, model_id=config.model_id or self.settings.model_id)
            config_file = run.save(self.adapters_dir / f".{job_id}.config.json")
            progress_file = self.adapters_dir / f".{job_id}.progress.jsonl"
            log_file = self.adapters_dir / f".{job_id}.log"
            command = training_command(self.python, config_file, progress_file)
            with log_file.open("w") as log:
                process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
            self._job = TrainingJob(job_id, output, progress_file, log_file, process, config_file)
            threading.Thread(target=self._watch, args=(self._job,), daemon=True).start()
            return self._job

    def _watch(self, job: TrainingJob) -> None:
        code = job.process.wait()
        with self._lock:
            if job.status == "cancelled":
                return
            if code == 0 and (job.output_dir / "adapter_config.json").exists():
                job.status = "done"
            else:  # the half-written adapter goes first: whoever reads "failed" finds it gone
                shutil.rmtree(partial_path(job.output_dir), ignore_errors=True)
                job.error = f"training exited with code {code}: {job.log_tail(3)}"
                job.status = "failed"

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
