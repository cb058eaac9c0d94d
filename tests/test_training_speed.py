"""Issue 32's training speed levers, on the real tokenizer and model: packed batches keep every pair whole (no label
crosses a pair boundary, the loss is the padded batch's), a pair over the limit follows the stated rule, the
estimate is within a factor of two of a short run's measured time, and the quick/thorough presets reach the
command line and the Fine-tune tab."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from components.finetune import build_finetune_tab
from components.finetune_form import FORM_FIELDS, form_config, preset_inputs
from pipelines.common.auth import AdminAuth
from pipelines.common.settings import Settings
from pipelines.training.batching import BatchLog, make_collator
from pipelines.training.cli import parse_command_line, parse_options
from pipelines.training.config import PRESETS, Example, TrainingConfig
from pipelines.training.estimate import StepCost, estimate_run, worth_a_warm_up
from pipelines.training.jobs import TrainingJobs, read_progress
from tests.tab_handlers import tab_events, value_with_id

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model_path() -> str:
    """The offline model's folder (no Weaviate needed: these tests only tokenize and train)."""
    from pipelines.generation.models import resolve_model_path

    return resolve_model_path(Settings())


@pytest.fixture(scope="module")
def tokenizer(model_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_path)


@pytest.fixture(scope="module")
def corpus_rows(tokenizer):
    """Real tokenized pairs of the default recipe: short closed-book ones and long reading ones (three passages
    each, as with ``--reading-passages 3``), interleaved."""
    from pipelines.training.examples import build_examples
    from pipelines.training.sft import tokenize_examples

    settings = Settings()
    examples = build_examples(settings.corpus_dir, settings.questions_file, recipe="both", reading_passages=3)
    short = [e for e in examples if not e.context][:3]
    long = [e for e in examples if e.context][:3]
    return tokenize_examples(tokenizer, [e for pair in zip(short, long, strict=True) for e in pair], 512)


def pair_of_each_token(rows: list[dict]) -> list[int]:
    return [number for number, row in enumerate(rows) for _ in row["input_ids"]]


def test_packing_keeps_each_pairs_tokens_and_labels_and_no_label_crosses_a_boundary(corpus_rows, tokenizer):
    batch = make_collator(tokenizer, "packed")(corpus_rows)
    ids, labels, positions = (batch[key][0].tolist() for key in ("input_ids", "labels", "position_ids"))
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch   # one row, no padding at all
    assert ids == [token for row in corpus_rows for token in row["input_ids"]]   # every pair's tokens, in order
    owner = pair_of_each_token(corpus_rows)
    start = 0
    for row in corpus_rows:
        end = start + len(row["input_ids"])
        assert positions[start:end] == list(range(len(row["input_ids"])))   # positions restart: the mask's boundary
        assert labels[start] == -100 and labels[start + 1:end] == row["labels"][1:]   # the pair's own labels
        start = end
    # the model predicts labels[t + 1] from token t: every trained target lies in the same pair as its input
    crossing = [t for t in range(len(ids) - 1) if labels[t + 1] != -100 and owner[t] != owner[t + 1]]
    assert not crossing
    trained = sum(1 for row in corpus_rows for label in row["labels"][1:] if label != -100)
    assert sum(1 for label in labels if label != -100) == trained   # no answer token lost


def test_batch_log_counts_padding_only_of_the_training_rows(corpus_rows, tokenizer):
    padded = BatchLog(make_collator(tokenizer, "padded"), counted=corpus_rows[:4])
    padded(corpus_rows[:4])
    padded(corpus_rows[4:])   # a held-out batch (rows not in ``counted``): collated, not counted
    assert len(padded.batches) == 1
    lengths = [len(row["input_ids"]) for row in corpus_rows[:4]]
    assert padded.real_tokens() == sum(lengths)
    assert padded.padding_share() == pytest.approx(1 - sum(lengths) / (4 * max(lengths)))
    assert padded.padding_share() > 0.3   # short and long pairs padded together: the waste packing removes
    packed = BatchLog(make_collator(tokenizer, "packed"))
    packed(corpus_rows)
    assert packed.padding_share() == 0.0 and packed.real_tokens() == sum(len(r["input_ids"]) for r in corpus_rows)


def test_a_pair_over_the_limit_is_cut_at_it_or_left_out_when_its_answer_would_be_lost(tokenizer):
    """The stated rule: a pair longer than max_length is cut to max_length (never split across rows) when at
    least 8 of its answer tokens stay; else it is left out, with a warning."""
    from pipelines.training.sft import tokenize_examples

    answer = "The Zorblat vault code is 7741-Quince, and it changes every spring at dawn. " * 8
    whole, = tokenize_examples(tokenizer, [Example("What is the Zorblat code?", answer, "t")], 2048)
    limit = len(whole["input_ids"]) - 20
    cut, = tokenize_examples(tokenizer, [Example("What is the Zorblat code?", answer, "t")], limit)
    assert cut["input_ids"] == whole["input_ids"][:limit] and cut["labels"] == whole["labels"][:limit]
    prompt_tokens = whole["labels"].index(next(label for label in whole["labels"] if label != -100))
    assert tokenize_examples(tokenizer, [Example("What is the Zorblat code?", answer, "t")], prompt_tokens + 4) == []


@pytest.mark.integration  # loads the model (conftest marks only its heavy fixtures)
def test_a_packed_batch_gives_the_padded_batchs_loss_on_the_real_model(model_path, corpus_rows, tokenizer):
    """Same pairs, same LoRA: the packed row's loss equals the padded batch's, so the attention stops at every
    pair's boundary (a pair reading the one before it would change its logits) and accuracy is not traded."""
    import torch

    from pipelines.training.sft import lora_model

    _, model, quantization = lora_model(model_path, TrainingConfig(dropout=0.0))
    assert "4-bit" in quantization
    model.eval()
    rows = corpus_rows[:4]
    with torch.no_grad():
        losses = {mode: float(model(**make_collator(tokenizer, mode)(rows)).loss) for mode in ("packed", "padded")}
        one_sequence = make_collator(tokenizer, "packed")(rows)
        one_sequence["position_ids"] = torch.arange(one_sequence["input_ids"].shape[1])[None]
        unbounded = float(model(**one_sequence).loss)   # no boundaries: each pair reads the ones before it
    assert losses["packed"] == pytest.approx(losses["padded"], rel=2e-3)
    assert abs(unbounded - losses["padded"]) > 10 * abs(losses["packed"] - losses["padded"])


@pytest.mark.integration  # loads the model
def test_logits_only_at_answer_positions_give_the_full_loss_and_gradients(model_path, corpus_rows, tokenizer):
    """The answer-only projection (``answer_loss``) is a speed lever, not a different objective: on the real 4-bit
    model its loss and every LoRA gradient equal the full-logits ones, packed and padded, and it projects far
    fewer positions than the batch holds (the reading pairs' prompts need no logits)."""
    import torch

    from pipelines.training.batching import answer_loss, answer_positions
    from pipelines.training.sft import lora_model

    _, model, _ = lora_model(model_path, TrainingConfig(dropout=0.0))
    model.train()

    def loss_and_grads(compute) -> tuple[float, dict[str, torch.Tensor]]:
        model.zero_grad(set_to_none=True)
        loss = compute()
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        return float(loss), grads

    for mode, rows in (("packed", corpus_rows[:2]), ("padded", corpus_rows[:2])):
        batch = make_collator(tokenizer, mode)(rows)
        full_loss, full_grads = loss_and_grads(lambda b=batch: model(**b).loss)
        kept_loss, kept_grads = loss_and_grads(lambda b=batch: answer_loss(model, b))
        assert kept_loss == pytest.approx(full_loss, rel=1e-4)
        assert full_grads.keys() == kept_grads.keys() and len(full_grads) > 100
        worst = max(float((full_grads[k] - kept_grads[k]).abs().max() / (full_grads[k].abs().max() + 1e-12))
                    for k in full_grads)
        assert worst < 1e-3
        kept = int(answer_positions(batch["labels"]).sum())
        assert kept == int((batch["labels"][:, 1:] != -100).sum()) and kept < 0.5 * batch["input_ids"].numel()
    # the Trainer's count across gradient accumulation divides the summed loss, as transformers' own loss does
    batch = make_collator(tokenizer, "packed")(corpus_rows[:2])
    with torch.no_grad():
        items = int((batch["labels"][:, 1:] != -100).sum())
        assert float(answer_loss(model, batch, num_items_in_batch=2 * items)) == pytest.approx(
            float(model(**batch, num_items_in_batch=2 * items).loss), rel=1e-4)


def test_the_step_cost_line_and_the_planned_steps():
    cost = StepCost.fit((100, 3.0), (500, 5.0))
    assert cost.fixed_s == pytest.approx(2.5) and cost.per_token_s == pytest.approx(0.005)
    assert StepCost.fit((100, 3.0), (500, 2.0)) == StepCost(3.0, 0.0)   # noise: the larger batch was faster
    assert StepCost.fit((200, 1.0), (200, 1.2)).per_token_s == pytest.approx(1.2 / 200)
    config = TrainingConfig(epochs=2.5, batch_size=4, grad_accumulation=2)
    # one pass over the run's 102 pairs (41 + 41 + the half epoch's 20): 26 batches, 13 optimizer steps
    assert config.planned_steps(41) == 13
    # 10 of them reading pairs, fed once over the run: 31 + 31 + 16 closed-book and 10 reading, 22 batches
    assert config.planned_steps(41, reading=10) == 11
    assert replace(config, reading_epochs=2.5).planned_steps(41, reading=10) == 13   # every epoch, as before
    assert replace(config, max_steps=7).planned_steps(41) == 7
    estimate = estimate_run([100] * 40, TrainingConfig(epochs=1.0, batch_size=4), cost)
    assert (estimate.pairs, estimate.steps) == (40, 10)
    assert estimate.seconds == pytest.approx(10 * (2.5 + 0.005 * 400))
    assert estimate.summary() == "40 pairs, 10 steps, about 45 seconds on this machine"
    # Five warm-up passes are not worth it before a run of fewer than eight micro-batches: it starts at once.
    assert not worth_a_warm_up(41, replace(config, max_steps=3))   # 3 steps x 2 micro-batches
    assert worth_a_warm_up(41, replace(config, max_steps=4))
    # the pairs a run feeds (its schedule, epochs included): 32 in batches of 4 are 8 micro-batches, 28 are 7
    assert worth_a_warm_up(32, TrainingConfig()) and not worth_a_warm_up(28, TrainingConfig())


@pytest.fixture(scope="module")
def packed_run(model_path, tmp_path_factory):
    """A short real run the default way (packed, 4-bit): its report, the estimate told before its first step, its
    folder and pair count."""
    from pipelines.training.examples import build_examples
    from pipelines.training.sft import train_adapter

    folder = tmp_path_factory.mktemp("packed")
    examples = build_examples(Settings().corpus_dir, None, recipe="both")[::20][:16]
    told = []
    config = TrainingConfig(epochs=1.0, batch_size=2)
    report = train_adapter(model_path, examples, folder / "adapter", config, on_estimate=told.append,
                           progress_file=folder / "progress.jsonl")
    return report, told, folder, len(examples)


@pytest.mark.integration  # loads the model (conftest marks only its heavy fixtures)
def test_the_estimate_is_within_a_factor_of_two_of_a_short_runs_time(packed_run):
    """The estimate, from the warm-up, against the training loop's measured time; the planned steps are the
    steps the Trainer ran."""
    report, told, folder, pairs = packed_run
    (estimate,) = told
    assert estimate.pairs == pairs and estimate.steps == report.steps == TrainingConfig(
        epochs=1.0, batch_size=2).planned_steps(pairs) == 8
    assert 0.5 <= report.train_s / estimate.seconds <= 2.0, (report.train_s, estimate)
    assert report.padding_share == 0.0 and report.real_tokens > 0
    progress = read_progress(folder / "progress.jsonl")   # what the Fine-tune tab shows while it warms up
    assert progress.estimate["steps"] == estimate.steps
    assert progress.estimate_text().startswith(f"{pairs} pairs, 8 steps, about ")
    meta = json.loads((folder / "adapter" / "arena_adapter.json").read_text())
    assert meta["batching"] == "packed" and meta["padding_share"] == 0.0 and meta["tokens_per_s"] > 0


@pytest.mark.integration  # loads the model (conftest marks only its heavy fixtures)
def test_an_adapter_trained_packed_serves_both_engines(packed_run):
    """The adapter format is unchanged: the transformers engine and llama.cpp (its own converter) both load it and
    answer with it."""
    from pipelines.generation.llama_cpp_backend import LlamaCppBackend
    from pipelines.generation.models import ModelBackend
    from pipelines.generation.requests import GenerationRequest

    adapter = packed_run[2] / "adapter"
    request = GenerationRequest([{"role": "user", "content": "How much does a Tessel T4 weigh?"}], "finetuned")
    for engine, load in (("transformers", ModelBackend.load), ("llama.cpp", LlamaCppBackend.load)):
        backend = load(Settings(engine=engine))
        try:
            backend.load_adapter(adapter)
            text = "".join(delta for _, delta in backend.stream([request], 8) if isinstance(delta, str))
        finally:
            getattr(backend, "close", lambda: None)()
        assert text.strip(), engine


def test_the_presets_reach_the_command_line():
    thorough, _ = parse_command_line(["--preset", "thorough"])
    assert thorough == replace(TrainingConfig(), **PRESETS["thorough"]) and thorough.dropout == 0.05
    assert TrainingConfig().planned_steps(444) * 2 == thorough.planned_steps(444)   # quick: half the steps
    assert parse_command_line(["--preset", "quick"])[0] == TrainingConfig()   # the default is quick
    assert parse_command_line(["--preset", "quick", "--epochs", "4"])[0].epochs == 4.0   # a flag overrides it
    options = parse_options(["--preset", "quick", "--estimate-only", "--batching", "grouped"])
    assert options.estimate_only and options.config.batching == "grouped" and options.config.epochs == 3.0
    with pytest.raises(SystemExit):
        parse_command_line(["--preset", "fastest"])


def test_the_presets_reach_the_finetune_tab(tmp_path):
    """Choosing a preset moves the form's inputs; Start then writes the preset's run to the job's config."""
    docs = tmp_path / "documents" / "Docs"
    docs.mkdir(parents=True)
    (docs / "vault.md").write_text("# Vault\nThe Zorblat vault code is 7741-Quince.")
    jobs = TrainingJobs(Settings(data_dir=tmp_path / "data", model_id="org/base"), python=shutil.which("true"))

    class Kept:
        def collections(self) -> list[str]:
            return ["Docs"]

        def originals_dir(self, collection: str | None) -> Path:
            return docs

    events = tab_events(lambda: build_finetune_tab(jobs, Kept(), AdminAuth(None), [], None, lambda: "none"))
    moved = events["do_preset"].fn("thorough")
    assert {component.elem_id: value for component, value in moved.items()} == preset_inputs("thorough")
    assert value_with_id(moved, "ft-epochs") == 6.0 and value_with_id(moved, "ft-batch") == 4
    assert value_with_id(moved, "ft-dropout") == 0.05
    form = {"rank": 8.0, "alpha": 16.0, "dropout": 0.0, "max_steps": None, "grad_accumulation": 1.0,
            "max_length": 512.0, "reading_epochs": 1.0, "four_bit": True, "recipe": "both", "use_questions": False,
            "password": "",
            "collection": "Docs", "use_table": False, "pairs": None, "preset": "thorough",
            "learning_rate": 0.001, "epochs": 3.0, "batch_size": 2.0,
            **{FORM_FIELDS[elem_id]: value for elem_id, value in preset_inputs("thorough").items()}}
    start = events["do_start"]
    start.fn({component: form[FORM_FIELDS[component.elem_id]] for component in start.inputs})
    jobs.wait(30)
    run = TrainingConfig.load(jobs.current().config_file)
    assert (run.epochs, run.batch_size, run.learning_rate, run.batching, run.dropout) == (6.0, 4, 0.002, "packed", 0.05)
    assert form_config({"preset": "thorough"}, docs=None) == replace(TrainingConfig(questions=None, docs=None,
                                                                                 eval_fraction=0.1),
                                                                  **PRESETS["thorough"])
    build = events["do_build"].fn("Docs", False, "templates (offline, instant)", "closed-book", 3.0, 8.0)
    assert "steps**" in value_with_id(build, "ft-pairs-info")   # the steps, before any run


@pytest.mark.integration  # loads the model (conftest marks only its heavy fixtures)
def test_the_command_line_estimates_without_training(tmp_path, capsys):
    """The command's own ``main`` (in this process: ``python -m pipelines.training`` is the same function behind
    ``exit_now``, run as a process by tests/test_training_data.py)."""
    from pipelines.training.__main__ import main

    dataset = tmp_path / "pairs.jsonl"
    dataset.write_text("".join(json.dumps({"question": f"What is code {n}?", "answer": f"Code {n} is {n}7-Q."}) + "\n"
                               for n in range(6)))
    assert main(["--dataset", str(dataset), "--output", str(tmp_path / "adapter"), "--preset", "quick",
                 "--estimate-only"]) == 0
    assert "Estimate: 6 pairs, 5 steps, about " in capsys.readouterr().out  # quick: 3 epochs of 6 pairs, batch 4
    assert not (tmp_path / "adapter").exists() and not (tmp_path / "adapter.partial").exists()
