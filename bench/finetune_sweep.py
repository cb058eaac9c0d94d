"""Choose epochs, learning rate and rank for the fine-tuned column by dev accuracy on questions in new words.

For each ``--grid`` point (learning rate and rank) one QLoRA run trains on the chosen documents of a set for
``--epochs`` epochs and keeps the adapter of every epoch (:class:`~pipelines.training.sft.EpochSnapshots`: the
learning rate is constant, so epoch N of a long run is an N-epoch run). Then ``bench/answer_quality.py``
asks that set's questions about those documents (written apart from the documents' sentences, never trained
on) of every snapshot through the arena, on one started runtime, and prints key-fact accuracy per point.
Tune on ``dev``; never run this on ``test``.

    python bench/finetune_sweep.py --docs fleet_register.md,routes_and_timetable.md --epochs 4 \
        --grid 2e-3:8 --grid 5e-4:8          # about an hour on 2 CPU cores
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV_DOCS = ROOT / "assets" / "eval" / "dev" / "docs"


def train_point(docs: Path, out: Path, learning_rate: float, rank: int, epochs: int, recipe: str,
                dropout: float = 0.05) -> float:
    """One run with a snapshot per epoch under ``out``; returns its training time in seconds."""
    from pipelines.common.settings import Settings
    from pipelines.generation.models import resolve_model_path
    from pipelines.training.config import TrainingConfig
    from pipelines.training.examples import build_examples
    from pipelines.training.sft import EpochSnapshots, train_adapter

    settings = Settings()
    config = TrainingConfig(learning_rate=learning_rate, rank=rank, alpha=2 * rank, epochs=epochs, recipe=recipe,
                            dropout=dropout, docs=docs, questions=None, output=out / "final")
    examples = build_examples(docs, None, recipe=recipe)
    print(f"lr {learning_rate} r {rank} dropout {dropout}: {len(examples)} pairs, {epochs} epochs", file=sys.stderr,
          flush=True)
    report = train_adapter(resolve_model_path(settings), examples, out / "final", config,
                           base_model_id=settings.model_id, extra_callbacks=[EpochSnapshots(out)])
    return report.duration_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="dev", choices=("dev",), help="the set to tune on (dev only)")
    parser.add_argument("--docs", required=True, help="comma-separated document names of the set to train on")
    parser.add_argument("--grid", action="append", default=[], metavar="LR:RANK", help="a point (repeatable)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--recipe", default="closed-book")
    parser.add_argument("--dropout", type=float, default=0.05, help="LoRA dropout of every point (default 0.05)")
    parser.add_argument("--columns", default="finetuned",
                        help="columns asked of every snapshot (finetuned,rag_finetuned for the recipe 'both')")
    parser.add_argument("--work", type=Path, default=Path("/tmp/finetune-sweep"))
    args = parser.parse_args()

    names = [n for n in args.docs.split(",") if n]
    docs = args.work / "docs"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    for name in names:
        shutil.copy(DEV_DOCS / name, docs / name)
    variants, timings = [], []
    for point in args.grid or ["2e-3:8"]:
        learning_rate, rank = float(point.split(":")[0]), int(point.split(":")[1])
        name = f"lr{learning_rate:g}-r{rank}" + (f"-d{args.dropout:g}" if args.dropout != 0.05 else "")
        out = args.work / name
        if not (out / "final").exists():
            seconds = train_point(docs, out, learning_rate, rank, args.epochs, args.recipe, args.dropout)
            timings.append(f"{name}: {seconds:.0f} s")
        variants += [f"{name}-e{e}:adapter={out / f'epoch-{e}'}"
                     for e in range(1, args.epochs + 1) if (out / f"epoch-{e}").exists()]
    command = [sys.executable, str(ROOT / "bench" / "answer_quality.py"), "--sets", args.set, "--columns", args.columns,
               "--adapter", f"{args.set}={variants[0].split('adapter=')[1]}"]
    command += [a for name in names for a in ("--source", name)]
    command += [a for v in variants for a in ("--variant", v)]
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    print(f"training: {'; '.join(timings) or 'reused'}; asking: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
