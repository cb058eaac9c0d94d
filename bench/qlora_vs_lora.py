"""QLoRA (4-bit NF4 base) vs LoRA (16-bit base on a GPU, fp32 on a CPU): the training command's speed and memory.

Both runs are ``python -m pipelines.training`` as a user runs it, each in its own process, on the same
model, data, LoRA rank, batch and length:

  steps/s ratio     = QLoRA steps/s / LoRA steps/s            (the Trainer's own rate, loading excluded)
  peak memory ratio = QLoRA peak / LoRA peak                  (GPU: torch.cuda.max_memory_allocated;
                                                               CPU: the child's peak RSS, loading included)

Made for a GPU box with no network (the ``device`` tool): ``--shape`` builds the model from an
architecture file in ``bench/model_shapes/`` with random weights (steps/s and memory depend on the shape,
not on the values; the loss then starts near ln(vocabulary) and only shows that training ran), and the
tokenizer is the offline model's or ``--tokenizer DIR``. ``--model-id`` trains a real model instead.

    python bench/qlora_vs_lora.py --shape qwen2.5-0.5b-instruct [--steps 30] [--batch-size 8] [--max-length 512]
    python bench/qlora_vs_lora.py --model-id Qwen/Qwen2.5-0.5B-Instruct     # where the network allows
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPES = ROOT / "bench" / "model_shapes"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_random_model(shape_file: Path, target: Path, tokenizer_dir: str | None = None) -> Path:
    """A model folder with the shape's architecture, random weights (bf16 on CUDA) and the given tokenizer
    (default: the offline model's)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if tokenizer_dir is None:
        from pipelines.common.settings import Settings
        from pipelines.generation.models import materialize_offline_model

        tokenizer_dir = str(materialize_offline_model(Settings().cache_dir))
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config_dir = target / "config"
    config_dir.mkdir(parents=True)
    shutil.copy(shape_file, config_dir / "config.json")
    config = AutoConfig.from_pretrained(config_dir)
    if len(tokenizer) > config.vocab_size:
        raise SystemExit(f"{shape_file.name}: vocabulary {config.vocab_size} < the tokenizer's {len(tokenizer)}")
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model_dir = target / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir


def child(argv: list[str]) -> None:
    """Run the training command in this process and print its adapter metadata plus this process's peak RSS."""
    from pipelines.training.__main__ import main
    from pipelines.training.config import METADATA_FILE

    output = Path(argv[argv.index("--output") + 1])
    code = main(argv)
    meta = json.loads((output / METADATA_FILE).read_text())
    meta["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(meta))
    raise SystemExit(code)


def run_mode(model: str, four_bit: bool, args: argparse.Namespace, out: Path) -> dict:
    command = [sys.executable, __file__, "--child", "--model-id", model, "--output", str(out),
               "--max-steps", str(args.steps), "--batch-size", str(args.batch_size), "--max-length",
               str(args.max_length), "--rank", str(args.rank), "--no-questions"]
    if not four_bit:
        command.append("--no-4bit")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training ({'QLoRA' if four_bit else 'LoRA'}) failed:\n{done.stderr[-4000:]}")
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def peak_mb(meta: dict) -> float:
    return meta["peak_gpu_memory_mb"] if meta.get("peak_gpu_memory_mb") is not None else meta["peak_rss_mb"]


def main() -> None:
    if "--child" in sys.argv:
        child([a for a in sys.argv[1:] if a != "--child"])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--shape", default="qwen2.5-0.5b-instruct",
                        help=f"architecture file in {SHAPES.relative_to(ROOT)} (random weights)")
    source.add_argument("--model-id", help="a real model: Hub id or folder")
    parser.add_argument("--tokenizer", help="tokenizer folder for --shape (default: the offline model's)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--rank", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.model_id:
            model, label = args.model_id, args.model_id
        else:
            model = str(build_random_model(SHAPES / f"{args.shape}.json", work, args.tokenizer))
            label = f"{args.shape} (random weights)"
        results = {name: run_mode(model, four_bit, args, work / name)
                   for name, four_bit in (("qlora", True), ("lora", False))}

    qlora, lora = results["qlora"], results["lora"]
    device = qlora["device"]
    memory = "peak GPU memory (MiB)" if qlora.get("peak_gpu_memory_mb") is not None else "peak RSS, loading incl. (MiB)"
    print(f"qlora_vs_lora: {label} on {device}, {args.steps} steps, batch {args.batch_size}, "
          f"max length {args.max_length}, LoRA r={args.rank} on all linear layers")
    for name, meta in results.items():
        print(f"  {name:5s}  {meta['quantization']:24s} steps/s {meta['steps_per_s']:.3f}   {memory} "
              f"{peak_mb(meta):8.0f}   loss {meta['losses'][0]:.2f} -> {meta['final_loss']:.2f}")
    print(f"  steps/s ratio     QLoRA / LoRA : {qlora['steps_per_s'] / lora['steps_per_s']:.2f}")
    print(f"  peak memory ratio QLoRA / LoRA : {peak_mb(qlora) / peak_mb(lora):.2f}")


if __name__ == "__main__":
    main()
