"""Generation cost of one, two and three arena columns on one model, without a vector store.

``bench/side_by_side.py`` measures the whole app path and needs the Weaviate binary; this measures its
generation part alone, so it also runs on a GPU box where only PyTorch is at hand (the ``device`` tool):
the same prompts the arena builds (RAG: numbered passages + question, base model; fine-tuned: the question,
adapter; RAG + fine-tuned: RAG's prompt, adapter) go through ``ModelBackend.stream`` as one mixed-adapter
batch, and each mode is timed against one column alone, rounds alternating:

  wall-time ratio   = two (three) columns / the slower single column     (goals <= 1.15, <= 1.2)
  peak-memory ratio = the same, CUDA only (torch.cuda.max_memory_allocated per mode; CPU: side_by_side.py)

The passages are the first ``--top-k`` chunks of the question's source document (what costs is the
prompt's length; retrieval quality is measured elsewhere). ``--shape`` builds a model of that architecture
with random weights and a random LoRA adapter (it then decodes all ``--tokens`` in every row), default:
the offline model with the shipped adapter.

    python bench/decode_columns.py [--prompts 4] [--tokens 48] [--rounds 2]
    python bench/decode_columns.py --shape qwen2.5-0.5b-instruct --tokenizer gpu-bundle/tokenizer
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
MODES = {"rag": ("rag",), "finetuned": ("finetuned",), "both": ("rag", "finetuned"),
         "three": ("rag", "finetuned", "rag_finetuned")}


def random_adapter(model_dir: Path, target: Path, rank: int = 8) -> Path:
    """A LoRA adapter on all linear layers with random (non-zero) B, so the adapted rows really differ.

    Made on the CPU, so no GPU memory is left over to blur the per-mode peaks measured afterwards."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear",
                                     init_lora_weights=False, task_type="CAUSAL_LM")).save_pretrained(target)
    return target


def arena_requests(questions: list[dict], corpus: Path, top_k: int):
    """Per question, the three columns' requests as the arena builds them (passages from the source document)."""
    from pipelines.common.events import RetrievedChunk
    from pipelines.generation.models import FINETUNED_ADAPTER
    from pipelines.generation.prompts import plain_messages, rag_messages
    from pipelines.generation.requests import GenerationRequest
    from pipelines.knowledge.chunking import Chunker
    from pipelines.knowledge.readers import read_document

    chunker = Chunker(160, 32)
    for row in questions:
        source = corpus / row["source"]
        chunks = chunker.chunk(read_document(source.name, source.read_bytes()))[:top_k]
        passages = [RetrievedChunk(c.text, source.name, i, 1.0, i + 1) for i, c in enumerate(chunks)]
        rag = rag_messages(row["question"], passages, [])
        yield {"rag": GenerationRequest(rag), "finetuned": GenerationRequest(plain_messages(row["question"], []),
                                                                             FINETUNED_ADAPTER),
               "rag_finetuned": GenerationRequest(rag, FINETUNED_ADAPTER)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", help="architecture file in bench/model_shapes (random weights)")
    parser.add_argument("--tokenizer", help="tokenizer folder for --shape (default: the offline model's)")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top-k", type=int, default=3)
    args = parser.parse_args()

    import torch

    from pipelines.common.settings import Settings
    from pipelines.generation.models import ModelBackend

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        adapter = settings.adapter_path
        if args.shape:
            from bench.qlora_vs_lora import SHAPES, build_random_model

            model_dir = build_random_model(SHAPES / f"{args.shape}.json", Path(tmp), args.tokenizer)
            adapter = random_adapter(model_dir, Path(tmp) / "adapter")
            settings = settings.model_copy(update={"model_id": str(model_dir)})
        backend = ModelBackend.load(settings)
        backend.load_adapter(adapter)
        questions = [json.loads(line) for line in settings.questions_file.read_text().splitlines() if line.strip()]
        prompts = list(arena_requests(questions[: args.prompts], settings.corpus_dir, args.top_k))
        cuda = torch.cuda.is_available()

        def run(mode: str) -> tuple[float, float | None]:
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            for columns in prompts:
                for _ in backend.stream([columns[name] for name in MODES[mode]], args.tokens):
                    pass
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter() - started, torch.cuda.max_memory_allocated() / 2**20 if cuda else None

        run("three")  # warm-up
        seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
        memory: dict[str, float | None] = {}
        for _ in range(args.rounds):
            for mode in MODES:
                spent, peak = run(mode)
                seconds[mode].append(spent)
                memory[mode] = peak

    wall = {mode: statistics.median(values) for mode, values in seconds.items()}
    one = max(wall["rag"], wall["finetuned"])
    device = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"decode_columns: {args.shape or settings.model_id} ({backend.precision}) on {device}, "
          f"{args.prompts} prompts, up to {args.tokens} new tokens, median of {args.rounds} rounds")
    print("  median seconds: " + ", ".join(f"{mode} {value:.6f}" for mode, value in wall.items()))
    print(f"  wall time   two / slower single column  : {wall['both'] / one:.2f}  (goal <= 1.15)")
    print(f"  wall time   three / slower single column: {wall['three'] / one:.2f}  (goal <= 1.2)")
    if cuda:
        one_mem = max(memory["rag"], memory["finetuned"])
        print(f"  peak memory two / single column         : {memory['both'] / one_mem:.2f}  (goal <= 1.10)")
        print(f"  peak memory three / single column       : {memory['three'] / one_mem:.2f}  (goal <= 1.1)")


if __name__ == "__main__":
    main()
