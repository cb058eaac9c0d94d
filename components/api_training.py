"""Public API: start, follow and cancel a QLoRA training run; list and activate adapters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr

from components.admin import require_admin
from components.finetune_form import form_config
from pipelines.common.auth import AdminAuth
from pipelines.training.config import DEFAULT_PRESET, RECIPES, TrainingConfig, preset_values
from pipelines.training.jobs import TrainingBusy, TrainingJobs
from pipelines.training.registry import AdapterError, list_adapters

_DEFAULTS = TrainingConfig()


def training_endpoints(jobs: TrainingJobs | None, auth: AdminAuth, adapter_folders: list[Path],
                       activate: Callable[[Path], str] | None, active_adapter: Callable[[], str],
                       documents_of: Callable[[str], Path | None]) -> list[Callable]:
    """``documents_of(collection)`` is the folder of a collection's kept documents (None: no knowledge base)."""

    def require_jobs() -> TrainingJobs:
        if jobs is None:
            raise gr.Error("Training is unavailable in this app.")
        return jobs

    def train(admin_password: str, collection: str = "", recipe: str = _DEFAULTS.recipe,
              use_question_set: bool = True, four_bit: bool = True, lora_rank: int = _DEFAULTS.rank,
              lora_alpha: int = _DEFAULTS.alpha, lora_dropout: float | None = None,
              learning_rate: float | None = None, epochs: float | None = None,
              max_steps: int = -1, batch_size: int | None = None,
              grad_accumulation: int = _DEFAULTS.grad_accumulation, max_length: int = _DEFAULTS.max_length,
              preset: str = DEFAULT_PRESET) -> dict:
        """Start a background QLoRA run on a collection's documents; follow it with training_status.

        Args:
            admin_password: the admin password ("" when none is set).
            collection: whose kept documents become training pairs; empty for the default one.
            recipe: both, closed-book or reading (RAFT-style).
            use_question_set: also train on the question set's reference answers (train split).
            four_bit: 4-bit NF4 base (QLoRA); false trains plain LoRA.
            lora_rank: LoRA rank r.
            lora_alpha: LoRA alpha.
            lora_dropout: LoRA dropout (empty: the preset's).
            learning_rate: the optimizer's learning rate (empty: the preset's).
            epochs: passes over the pairs (empty: the preset's).
            max_steps: stop after this many steps (-1: by epochs).
            batch_size: pairs per step (empty: the preset's).
            grad_accumulation: steps accumulated per optimizer update.
            max_length: longest pair in tokens.
            preset: quick (the default: 3 epochs, LoRA dropout 0) or thorough (6 epochs, dropout 0.05).

        Returns:
            job_id and status ("running"); one run at a time.
        """
        require_admin(auth, admin_password)
        if recipe not in RECIPES:
            raise gr.Error(f"Unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}.")
        try:
            folder = documents_of(collection)  # a bad name: ValueError; an unknown one: no documents (below)
            if folder is None:
                raise gr.Error("The knowledge base is unavailable: no documents to train on.")
            preset_values(preset)  # an unknown preset: ValueError naming the presets
            given = {"learning_rate": learning_rate, "epochs": epochs, "batch_size": batch_size,
                     "dropout": lora_dropout}
            values = {"rank": lora_rank, "alpha": lora_alpha, "max_steps": max_steps,
                      "grad_accumulation": grad_accumulation, "max_length": max_length, "four_bit": four_bit,
                      "recipe": recipe, "use_questions": use_question_set, "preset": preset,
                      **{name: value for name, value in given.items() if value is not None}}
            config = form_config(values, docs=folder, questions_file=require_jobs().settings.questions_file)
            job = require_jobs().start(config, name=(collection or "adapter").lower())
        except (TrainingBusy, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        return {"job_id": job.job_id, "status": job.status}

    def training_status() -> dict:
        """The current or last training run: status, step, epoch, seconds elapsed and left, last losses.

        Returns:
            job_id and status (none, running, done, failed or cancelled), progress and error.
        """
        job = require_jobs().current()
        if job is None:
            return {"job_id": None, "status": "none"}
        progress = job.progress()
        return {"job_id": job.job_id, "status": job.status, "error": job.error or None, "step": progress.step,
                "max_steps": progress.max_steps, "epoch": progress.epoch, "elapsed_s": progress.elapsed_s,
                "eta_s": progress.eta_s, "train_loss": progress.losses[-1][1] if progress.losses else None,
                "eval_loss": progress.eval_losses[-1][1] if progress.eval_losses else None}

    def cancel_training(admin_password: str) -> dict:
        """Cancel the running training job; nothing of it is registered.

        Args:
            admin_password: the admin password ("" when none is set).
        """
        require_admin(auth, admin_password)
        return {"cancelled": require_jobs().cancel()}

    def adapters() -> list[dict]:
        """Every complete adapter, newest first, with its training metadata; the active one is marked."""
        active = active_adapter()
        return [{"adapter": a.name, "active": active.split("@")[0] == a.name, "method": a.method, "recipe": a.recipe,
                 "base_model": a.base_model, "created_at": a.created_at, "steps": a.steps,
                 "final_loss": a.final_loss, "examples": a.examples, "quantization": a.quantization,
                 "device": a.device, "duration_s": a.duration_s}
                for a in list_adapters(adapter_folders)]

    def activate_adapter(admin_password: str, adapter: str) -> dict:
        """Serve an adapter in the fine-tuned column; a damaged folder is refused and the old one kept.

        Args:
            admin_password: the admin password ("" when none is set).
            adapter: the adapter's name, as adapters lists it.

        Returns:
            the id of the adapter now active.
        """
        require_admin(auth, admin_password)
        found = {a.name: a.path for a in list_adapters(adapter_folders)}
        if not isinstance(adapter, str) or adapter not in found:
            raise gr.Error(f"No adapter {adapter!r}; adapters lists the names.")
        if activate is None:
            raise gr.Error("The model is not loaded: no adapter can be activated.")
        try:
            return {"active": activate(found[adapter])}
        except (AdapterError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc

    return [train, training_status, cancel_training, adapters, activate_adapter]
