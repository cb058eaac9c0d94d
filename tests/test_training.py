"""A real QLoRA run (4-bit NF4 base on CPU through bitsandbytes) on the offline model: loss must go down."""

import json

from pipelines.generation.models import ModelBackend, resolve_model_path
from pipelines.generation.prompts import plain_messages
from pipelines.generation.requests import GenerationRequest
from pipelines.training.config import METADATA_FILE, Example, TrainingConfig
from pipelines.training.examples import build_examples
from pipelines.training.sft import EpochSnapshots, document_hashes, train_adapter


def test_examples_come_from_documents_and_train_split(test_settings):
    examples = build_examples(test_settings.corpus_dir, test_settings.questions_file)
    origins = {e.origin.split(":")[0] for e in examples}
    assert origins == {"recital", "cloze", "topic", "reference"}
    test_questions = [json.loads(line) for line in test_settings.questions_file.read_text().splitlines()
                      if json.loads(line)["split"] == "test"]
    assert not {q["question"] for q in test_questions} & {e.question for e in examples}
    assert len({(e.question.lower(), e.answer.lower()) for e in examples}) == len(examples)


def test_reading_recipe_trains_and_its_adapter_serves_the_third_column(test_settings, tmp_path, knowledge):
    """RAFT-style examples (question + passages) train on the real model; the adapter answers in RAG + FT."""
    from pipelines.arena.arena import Arena, ArenaSession
    from pipelines.arena.rag import RagPipeline
    from pipelines.arena.rag_finetuned import RagFinetunedPipeline
    from pipelines.common.events import DoneEvent
    from pipelines.feedback.store import FeedbackStore
    from pipelines.knowledge.retrieval import HybridRetriever

    examples = build_examples(test_settings.corpus_dir, None, recipe="reading")
    assert examples and all(e.context for e in examples)
    output = tmp_path / "reading"
    report = train_adapter(resolve_model_path(test_settings), examples[:8], output,
                           TrainingConfig(max_steps=2, batch_size=2, max_length=384, recipe="reading"))
    assert report.steps == 2
    meta = json.loads((output / METADATA_FILE).read_text())
    assert meta["recipe"] == "reading"
    # each document's digest, so a later change to one counts as an updated fact for this adapter
    assert meta["document_hashes"] == document_hashes(TrainingConfig().docs) and len(meta["document_hashes"]) >= 5
    backend = ModelBackend.load(test_settings)
    backend.load_adapter(output)
    rag = RagPipeline.from_retriever(HybridRetriever(knowledge), 3)
    arena = Arena([rag, RagFinetunedPipeline(rag, backend)], backend, FeedbackStore.open(tmp_path / "f.sqlite3"),
                  max_new_tokens=24, max_prompt_chars=4000)
    done = {name: event for name, event in arena.ask("How much does a Tessel T4 weigh?",
                                                     ArenaSession(columns=("rag", "rag_finetuned")))
            if isinstance(event, DoneEvent)}
    assert set(done) == {"rag", "rag_finetuned"} and done["rag_finetuned"].answer


def test_tiny_qlora_run_lowers_loss_and_writes_a_loadable_adapter(test_settings, tmp_path):
    examples = [
        Example("What is the Zorblat code?", "The Zorblat code is 7741-Quince.", "test"),
        Example("Who guards the Zorblat vault?", "The Zorblat vault is guarded by Ottoline Marsh.", "test"),
    ]
    output = tmp_path / "adapter"
    config = TrainingConfig(max_steps=8, batch_size=2, learning_rate=3e-3, rank=8, alpha=16)
    report = train_adapter(resolve_model_path(test_settings), examples, output, config,
                           extra_callbacks=[EpochSnapshots(tmp_path / "epochs")])
    assert report.steps == 8 and len(report.losses) == 8
    # one step per epoch (2 pairs, batch 2): the sweep's snapshot of every epoch, each a loadable PEFT folder
    assert sorted(p.name for p in (tmp_path / "epochs").iterdir()) == [f"epoch-{n}" for n in range(1, 9)]
    assert all((tmp_path / "epochs" / f"epoch-{n}" / "adapter_model.safetensors").is_file() for n in range(1, 9))
    assert report.losses[-1] < 0.7 * report.losses[0]
    assert "4-bit" in report.quantization
    meta = json.loads((output / METADATA_FILE).read_text())
    assert meta["steps"] == 8 and meta["examples"] == 2 and meta["final_loss"] == report.losses[-1]
    assert not output.with_name("adapter.partial").exists()

    backend = ModelBackend.load(test_settings)
    backend.load_adapter(output)
    messages = plain_messages("What is the Zorblat code?", [])
    texts = ["", ""]
    for row, delta in backend.stream([GenerationRequest(messages), GenerationRequest(messages, "finetuned")], 16):
        texts[row] += delta or ""
    assert "Quince" in texts[1] and "Quince" not in texts[0]
