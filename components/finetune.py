"""The Fine-tune tab: QLoRA on a collection's documents in the background, a live loss curve, the registry."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pandas as pd

from components.admin import require_admin
from components.finetune_form import FORM_FIELDS, form_config, form_values, preset_inputs
from pipelines.common.auth import AdminAuth
from pipelines.generation.chat_models import ChatModel
from pipelines.knowledge.base import KnowledgeBase
from pipelines.training.config import DEFAULT_PRESET, PRESETS, RECIPES, TrainingConfig
from pipelines.training.data import DatasetError, clean_pairs, load_pairs, write_pairs
from pipelines.training.examples import build_examples, pairs_per_document
from pipelines.training.jobs import TrainingBusy, TrainingJobs
from pipelines.training.pair_generation import generate_pairs
from pipelines.training.registry import AdapterError, AdapterInfo, list_adapters
from pipelines.training.schedule import is_reading

REGISTRY_COLUMNS = ["adapter", "method", "recipe", "created at", "steps", "final loss", "examples", "quantization",
                    "device", "minutes", "steps/s", "peak GPU MiB"]


def _rounded(value: float | None, digits: int | None = None) -> float | None:
    return None if value is None else round(value, digits)


def registry_frame(adapters: list[AdapterInfo]) -> pd.DataFrame:
    rows = [{"adapter": a.name, "method": a.method, "recipe": a.recipe or "–",
             "created at": a.created_at.replace("T", " ")[:16],
             "steps": a.steps, "final loss": _rounded(a.final_loss, 3), "examples": a.examples,
             "quantization": a.quantization, "device": a.device, "minutes": round(a.duration_s / 60, 1),
             "steps/s": _rounded(a.steps_per_s, 3), "peak GPU MiB": _rounded(a.peak_gpu_memory_mb)}
            for a in adapters]
    return pd.DataFrame(rows, columns=REGISTRY_COLUMNS)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


RECIPE_LABELS = {"both": "both: one adapter for the fine-tuned and the RAG + fine-tuned columns",
                 "closed-book": "closed-book: learn the facts, answer without passages (the fine-tuned column)",
                 "reading": "reading (RAFT): answer from passages among distractors (the RAG + fine-tuned column)"}


PRESET_LABELS = {"quick": "quick (default): 3 epochs, no LoRA dropout (the sample adapter: 8 minutes here)",
                 "thorough": "thorough: 6 epochs, LoRA dropout 0.05: about twice the time (sample: 19 minutes); "
                             "on dev it learned no more facts"}


def pairs_summary(examples, config: TrainingConfig | None = None) -> str:
    """How many pairs each document gave (a document with few pairs teaches the adapter little) and, given the
    form's config, the steps the run will take; the minutes follow from the run's warm-up."""
    counts = pairs_per_document(examples)
    text = f"{len(examples)} pairs: " + ", ".join(f"`{html.escape(d)}` {n}" for d, n in counts.items())
    if config is not None:
        reading = sum(map(is_reading, examples))
        fed = (f" ({reading} reading pairs, fed {config.reading_passes():g} times over the run)"
               if reading and reading < len(examples) else "")
        text += (f". With batch {config.batch_size} and {config.epochs:g} epochs{fed}: "
                 f"**{config.planned_steps(len(examples), reading)} steps**; the run times a warm-up and shows the "
                 "minutes before its first step")
    return text


def pairs_frame(examples) -> pd.DataFrame:
    return pd.DataFrame([{"question": e.question, "answer": e.answer} for e in examples],
                        columns=["question", "answer"])


def build_finetune_tab(jobs: TrainingJobs, knowledge: KnowledgeBase | None, auth: AdminAuth,
                       adapter_folders: list[Path], activate: Callable[[Path], str] | None,
                       active_adapter: Callable[[], str], questions_file: Path | None = None,
                       pair_writer: Callable[[], ChatModel | None] | None = None) -> None:
    """``pair_writer`` gives the language model that writes training pairs (None: templates only)."""
    gr.Markdown(
        "Train a **QLoRA** adapter (4-bit NF4 base through bitsandbytes, LoRA on all linear layers, "
        "transformers' Trainer, loss on the answers only) on a collection's documents: every chunk, and every "
        "sentence that states a fact in several question forms, becomes a training pair. Training runs in its "
        "own process, so the arena keeps answering; when it finishes, activate the adapter for the fine-tuned "
        "column. Where 4-bit is unavailable it trains plain "
        "LoRA and says so. Pairs are packed end to end (no padding); before its first step a run times a short "
        "warm-up and shows its pairs, steps and about how many minutes it will take here."
    )
    collections = (knowledge.collections() if knowledge else []) or [""]
    password = gr.Textbox(label="Admin password (needed to train and activate)", type="password",
                          visible=auth.enabled, elem_id="ft-password")
    with gr.Row():
        collection = gr.Dropdown(collections, value=collections[0], label="Documents of collection",
                                 elem_id="ft-collection", scale=2)
        use_questions = gr.Checkbox(True, label="Also train on the question set's reference answers (train split)",
                                    elem_id="ft-questions", scale=2)
        four_bit = gr.Checkbox(True, label="4-bit NF4 base (QLoRA)", elem_id="ft-4bit", scale=1)
    defaults = TrainingConfig()
    preset = gr.Radio([(PRESET_LABELS[name], name) for name in PRESETS], value=DEFAULT_PRESET,
                      label="Preset (sets epochs, batch size, learning rate and dropout below)", elem_id="ft-preset")
    recipe = gr.Radio([(RECIPE_LABELS[r], r) for r in RECIPES], value=defaults.recipe, label="Recipe",
                      elem_id="ft-recipe")
    with gr.Row():
        rank = gr.Slider(2, 64, value=defaults.rank, step=2, label="LoRA rank", elem_id="ft-rank")
        alpha = gr.Slider(2, 128, value=defaults.alpha, step=2, label="LoRA alpha", elem_id="ft-alpha")
        dropout = gr.Slider(0, 0.5, value=defaults.dropout, step=0.01, label="dropout", elem_id="ft-dropout")
        learning_rate = gr.Number(defaults.learning_rate, label="learning rate", elem_id="ft-lr")
    with gr.Row():
        epochs = gr.Number(defaults.epochs, label="epochs", elem_id="ft-epochs")
        max_steps = gr.Number(-1, precision=0, label="max steps (-1: by epochs)", elem_id="ft-max-steps")
        batch = gr.Slider(1, 32, value=defaults.batch_size, step=1, label="batch size", elem_id="ft-batch")
        accumulation = gr.Slider(1, 16, value=defaults.grad_accumulation, step=1, label="grad accumulation",
                                 elem_id="ft-accumulation")
        max_length = gr.Slider(64, 2048, value=defaults.max_length, step=64, label="max length (tokens)",
                               elem_id="ft-max-length")
        reading_epochs = gr.Number(defaults.reading_epochs, label="reading pairs: times fed over the run",
                                   info="recipe both; closed-book pairs are fed every epoch",
                                   elem_id="ft-reading-epochs")
    with gr.Accordion("Training pairs: preview, edit, or upload your own", open=False, elem_id="ft-pairs"):
        gr.Markdown("Pairs are built from every chunk of the documents (offline templates), plus the reference "
                    "answers when ticked above; 10% (at most 32) are held out for the eval loss once there are 10 "
                    "or more. Edit cells, add or delete rows, or upload a JSONL/CSV file with question/answer columns, "
                    "then tick *Train on the pairs in this table*.")
        with gr.Row():
            writer = gr.Radio(["templates (offline, instant)", "language model (slower, reads each passage)"],
                              value="templates (offline, instant)", label="Write the pairs with",
                              elem_id="ft-pair-writer", interactive=pair_writer is not None)
            build_pairs = gr.Button("Build pairs from the documents", elem_id="ft-build-pairs")
            pairs_file = gr.File(label="Upload pairs (.jsonl, .csv)", file_types=[".jsonl", ".csv"],
                                 elem_id="ft-pairs-file")
        pairs_info = gr.Markdown(elem_id="ft-pairs-info")
        pairs = gr.Dataframe(pairs_frame([]), interactive=True, wrap=True, elem_id="ft-pairs-table")
        use_table = gr.Checkbox(False, label="Train on the pairs in this table", elem_id="ft-use-table")
    with gr.Row():
        start = gr.Button("🚀 Start training", variant="primary", elem_id="ft-start")
        cancel = gr.Button("⏹ Cancel", variant="stop", elem_id="ft-cancel")
    status = gr.Markdown("No training job yet.", elem_id="ft-status")
    # Two plots, no initial frame: Gradio's plot keeps the colour domain (and type) of its first data, so
    # one plot coloured by train/eval never showed an eval series that appeared later.
    with gr.Row():
        curve = gr.LinePlot(None, x="step", y="loss", title="Training pairs", elem_id="ft-loss")
        eval_curve = gr.LinePlot(None, x="step", y="loss", title="Held-out pairs (eval)", elem_id="ft-eval-loss")
    timer = gr.Timer(2.0, active=False)
    gr.Markdown("### Adapters")
    active = gr.Markdown(f"Active in the fine-tuned column: **{active_adapter()}**", elem_id="ft-active")
    adapters = list_adapters(adapter_folders)
    registry = gr.Dataframe(registry_frame(adapters), interactive=False, elem_id="ft-registry")
    with gr.Row():
        choice = gr.Dropdown([a.name for a in adapters], label="Adapter", elem_id="ft-choice",
                             scale=3)
        activate_button = gr.Button("✅ Activate for the fine-tuned column", elem_id="ft-activate", scale=1,
                                    interactive=activate is not None)
        refresh = gr.Button("↻", elem_id="ft-refresh", scale=0, min_width=40)

    def registry_update() -> dict:
        found = list_adapters(adapter_folders)  # one scan of the folders for the table and the choices
        return {registry: registry_frame(found), choice: gr.Dropdown(choices=[a.name for a in found]),
                active: f"Active in the fine-tuned column: **{active_adapter()}**"}

    def poll() -> dict:
        job = jobs.current()
        if job is None:
            return {status: "No training job yet.", timer: gr.Timer(active=False)}
        progress = job.progress()
        frame = {plot: pd.DataFrame(points, columns=["step", "loss"])
                 for plot, points in ((curve, progress.losses), (eval_curve, progress.eval_losses)) if points}
        if job.status == "running":
            text = (f"⏳ **{job.job_id}**: step {progress.step}/{progress.max_steps or '…'} · epoch "
                    f"{progress.epoch:.2f} · elapsed {_clock(progress.elapsed_s)} · ETA {_clock(progress.eta_s)}")
            if progress.estimate:
                text += f" · estimate before the start: {progress.estimate_text()}"
            elif not progress.max_steps:
                text += " · loading the model and timing a warm-up…"
            return {status: text, **frame}
        text = {"done": f"✅ **{job.job_id}** finished: {progress.step} steps. Activate it below.",
                "cancelled": f"⏹ **{job.job_id}** was cancelled; nothing was registered.",
                "failed": f"❌ **{job.job_id}** failed: {html.escape(job.error)}"}[job.status]
        return {status: text, **frame, timer: gr.Timer(active=False), **registry_update()}

    def docs_of(name: str | None) -> Path | None:
        return knowledge.originals_dir(name or None) if knowledge else None

    def do_build(name: str, questions: bool, how: str, chosen_recipe: str, chosen_epochs: float, chosen_batch: float,
                 progress=gr.Progress()) -> dict:  # noqa: B008
        folder = docs_of(name)
        if folder is None or not folder.is_dir():
            return {pairs_info: "⚠️ No documents kept for this collection: ingest some in the Knowledge tab."}
        if not how.startswith("language model"):
            examples = build_examples(folder, questions_file if questions else None, recipe=chosen_recipe)
            try:
                plan = TrainingConfig(epochs=float(chosen_epochs), batch_size=int(chosen_batch), recipe=chosen_recipe)
            except (TypeError, ValueError):  # a bad number box: the pairs still show, the steps do not
                plan = None
            return {pairs: pairs_frame(examples), pairs_info: pairs_summary(examples, plan)}
        model = pair_writer() if pair_writer else None
        if model is None:
            return {pairs_info: "⚠️ No language model is loaded to write pairs; use the templates."}
        report = generate_pairs(folder, model, progress=lambda done, text: progress(done, desc=text))
        return {pairs: pairs_frame(report.examples),
                pairs_info: f"{html.escape(report.summary())} (by `{html.escape(model.name)}`). Edit them, then "
                            "tick *Train on the pairs in this table*."}

    def do_upload(path: str | None) -> dict:
        if path is None:
            return {}
        try:
            report = load_pairs(Path(path))
        except DatasetError as exc:
            return {pairs_info: f"⚠️ {html.escape(str(exc))}"}
        return {pairs: pairs_frame(report.examples), pairs_info: html.escape(report.summary()),
                use_table: True}

    def table_dataset(frame: pd.DataFrame) -> tuple[Path, str]:
        report = clean_pairs(frame.to_dict("records"), origin="table")
        if not report.examples:
            raise DatasetError(f"The table has no usable pairs: {report.summary()}")
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%d-%H%M%S")
        return write_pairs(report.examples, jobs.adapters_dir.parent / "datasets" / f"pairs-{stamp}.jsonl"), \
            report.summary()

    form = [password, collection, use_questions, four_bit, preset, recipe, rank, alpha, dropout, learning_rate, epochs,
            max_steps, batch, accumulation, max_length, reading_epochs, use_table, pairs]
    missing = [c.elem_id for c in form if c.elem_id not in FORM_FIELDS]
    if missing:  # a new input needs its name in FORM_FIELDS, or the handler could not read it
        raise ValueError(f"Fine-tune form inputs without a name in FORM_FIELDS: {missing}")

    def do_start(given: dict) -> dict:
        values = form_values(given)
        require_admin(auth, values["password"])
        from_table, name = values["use_table"], values["collection"]
        if knowledge is None and not from_table:
            return {status: "⚠️ The knowledge base is unavailable: no documents to train on."}
        try:
            dataset, note = table_dataset(values["pairs"]) if from_table else (None, "")
            config = form_config(values, docs=docs_of(name), questions_file=questions_file, dataset=dataset)
            job = jobs.start(config, name=(name or "adapter").lower())
        except (TrainingBusy, ValueError) as exc:
            return {status: f"⚠️ {html.escape(str(exc))}"}
        note = f" Training pairs: {html.escape(note)}." if note else ""
        return {status: f"⏳ **{job.job_id}** started: loading the model…{note}", timer: gr.Timer(active=True)}

    def do_cancel(given: str) -> dict:
        require_admin(auth, given)
        return {status: "⏹ Cancelled." if jobs.cancel() else "No training job is running."}

    def do_activate(given: str, name: str | None) -> dict:
        require_admin(auth, given)
        found = {a.name: a.path for a in list_adapters(adapter_folders)}
        if activate is None or not name or name not in found:
            return {active: "⚠️ Choose an adapter from the list first."}
        try:
            adapter = activate(found[name])
        except (AdapterError, ValueError) as exc:
            return {active: f"⚠️ {html.escape(str(exc))}"}
        return {**registry_update(), active: f"✅ Active in the fine-tuned column: **{html.escape(adapter)}**. "
                                             "New answers in the arena use it."}

    start.click(do_start, inputs=set(form), outputs=[status, timer], api_name=False)
    by_id = {component.elem_id: component for component in form}

    def do_preset(name: str) -> dict:
        return {by_id[elem_id]: value for elem_id, value in preset_inputs(name).items()}

    preset.change(do_preset, inputs=[preset], outputs=[by_id[e] for e in preset_inputs(DEFAULT_PRESET)],
                  api_name=False)
    build_pairs.click(do_build, inputs=[collection, use_questions, writer, recipe, epochs, batch],
                      outputs=[pairs, pairs_info],
                      api_name=False, concurrency_limit=1, concurrency_id="pair-writing")
    pairs_file.change(do_upload, inputs=[pairs_file], outputs=[pairs, pairs_info, use_table], api_name=False)
    cancel.click(do_cancel, inputs=[password], outputs=[status], api_name=False)
    timer.tick(poll, outputs=[status, curve, eval_curve, timer, registry, choice, active], api_name=False)
    activate_button.click(do_activate, inputs=[password, choice], outputs=[registry, choice, active],
                          api_name=False)
    refresh.click(registry_update, outputs=[registry, choice, active], api_name=False)
