#!/usr/bin/env bash
# The GPU checks of the fine-tuning issue, in one run on a GPU box with no network (the device tool), from
# what scripts/gpu_bundle.sh packed into gpu-bundle/. Prints and writes to $OUT (or gpu-results/):
#   1. train: QLoRA (4-bit NF4, bf16 compute, paged 8-bit AdamW, gradient checkpointing) vs 16-bit LoRA through
#      the training command: steps/s and peak GPU memory, Qwen2.5-0.5B and -1.5B shapes (random weights)
#   2. decode: bench/decode_columns.py: one, two and three columns decoded as the arena batches them
#   3. batch_rows: every row of one mixed-adapter batch (base, adapter, RAG + adapter; prompts of several lengths)
#      decoded greedily is the row decoded alone, token for token (float32, where rounding cannot flip a choice)
# A step that fails, times out, or runs in full precision where 4-bit was asked (a silent fall-back when
# bitsandbytes cannot load) is a failure: the other steps still run, then the exit status is 1 and the last line
# names the failed steps. Anything else that fails (a missing package, a broken bundle) stops the run at once.
#   GPU_SHAPES=tiny-qwen2 GPU_TRAIN_STEPS=3: a dry run on a CPU;  GPU_STEPS="decode batch_rows": some steps only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="${OUT:-$ROOT/gpu-results}"; mkdir -p "$RESULTS"
BUNDLE="$ROOT/gpu-bundle"
cd "$ROOT"
PY="$(command -v python || command -v python3)"
python() { "$PY" "$@"; }
# Wheels go to their own folder on PYTHONPATH: works where the system Python is marked externally managed.
DEPS="${TMPDIR:-/tmp}/arena-gpu-deps"; export PYTHONPATH="$DEPS${PYTHONPATH:+:$PYTHONPATH}"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$RESULTS/gpu.txt"
else
  echo "no nvidia-smi: a dry run on the CPU" | tee "$RESULTS/gpu.txt"
fi
# Install only what this machine lacks, from the bundle (never from an index).
# One interpreter tries every import (one start per module cost 4-5 s each where a sitecustomize loads torch) and,
# when none is missing, writes the versions line (another start would import torch and transformers again).
VERSIONS="import torch, transformers, peft, bitsandbytes; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, 'peft', peft.__version__, 'bitsandbytes', bitsandbytes.__version__)"
rm -f "$RESULTS/versions.txt"
mapfile -t missing < <(python - "$RESULTS/versions.txt" "$VERSIONS" <<'PY'
import contextlib
import importlib
import sys

missing = []
for module, package in [("bitsandbytes", "bitsandbytes"), ("peft", "peft"), ("accelerate", "accelerate"),
                        ("psutil", "psutil"), ("pydantic", "pydantic"), ("pydantic_core", "pydantic-core"),
                        ("pydantic_settings", "pydantic-settings"), ("dotenv", "python-dotenv"),
                        ("typing_inspection", "typing-inspection"), ("annotated_types", "annotated-types")]:
    try:
        importlib.import_module(module)
    except Exception:  # absent or broken: install it from the bundle
        missing.append(package)
        print(package)
if not missing:
    with open(sys.argv[1], "w") as out, contextlib.redirect_stdout(out):
        exec(sys.argv[2])
PY
)
if ((${#missing[@]})); then
  echo "installing from the bundle: ${missing[*]}"
  python -m pip install --quiet --no-index --no-deps --target "$DEPS" --find-links "$BUNDLE/wheels" "${missing[@]}"
fi
if [[ ! -s "$RESULTS/versions.txt" ]]; then python -c "$VERSIONS" >"$RESULTS/versions.txt"; fi  # installed, or failed
cat "$RESULTS/versions.txt"
export HF_HUB_OFFLINE=1 ARENA_DATA_DIR=/tmp/arena-data ARENA_QUANTIZATION=4bit  # 4-bit asked for: checked below
failed=()
# step NAME SECONDS COMMAND...: full log to $RESULTS/NAME.log, the result lines (and any failure) printed
step() {
  local name=$1 limit=$2 code=0; shift 2
  timeout "$limit" "$@" >"$RESULTS/$name.log" 2>&1 || code=$?
  grep -E '^(qlora_vs_lora|decode_columns|batch_rows):|^  ' "$RESULTS/$name.log" | grep -v 'warnings.warn' || true
  if ((code == 124)); then echo "$name: TIMED OUT after ${limit} s"; failed+=("$name"); elif ((code)); then
    echo "$name: FAILED (exit $code):"; tail -5 "$RESULTS/$name.log"; failed+=("$name"); fi
  return 0
}
# expect_4bit NAME PATTERN: the step's log must show 4-bit where 4-bit was asked (the loaders fall back silently)
expect_4bit() {
  local name=$1 pattern=$2
  [[ " ${failed[*]} " == *" $name "* ]] && return 0  # failed already: said above
  if ! grep -qE "$pattern" "$RESULTS/$name.log"; then
    echo "$name: FAILED: 4-bit NF4 was asked for, the model ran in full precision (bitsandbytes fell back):"
    grep -iE 'falling back|fallback|bitsandbytes' "$RESULTS/$name.log" | tail -3 || true
    failed+=("$name")
  fi
}
wants() { [[ " ${GPU_STEPS:-train decode batch_rows} " == *" $1 "* ]]; }
SHAPES="${GPU_SHAPES:-qwen2.5-0.5b-instruct qwen2.5-1.5b-instruct}"  # GPU_SHAPES=tiny-qwen2: a dry run on a CPU
TOKENIZER=()  # the bundle's tokenizer; without a bundle (a dry run here) the offline model's
if [[ -d "$BUNDLE/tokenizer" ]]; then TOKENIZER=(--tokenizer "$BUNDLE/tokenizer"); fi
if wants train; then
  for shape in $SHAPES; do  # under 10 minutes in all, the device tool's limit per command
    step "qlora_vs_lora-$shape" 220 "$PY" bench/qlora_vs_lora.py --shape "$shape" "${TOKENIZER[@]}" \
      --steps "${GPU_TRAIN_STEPS:-30}"
    expect_4bit "qlora_vs_lora-$shape" '^  qlora +4-bit NF4 \(QLoRA\)'
  done
fi
if wants decode; then
  # shellcheck disable=SC2086  # GPU_DECODE_ARGS is a list of arguments
  step decode_columns 120 "$PY" bench/decode_columns.py --shape "${SHAPES%% *}" "${TOKENIZER[@]}" \
    ${GPU_DECODE_ARGS:-}
  expect_4bit decode_columns '^decode_columns: .*\(4-bit NF4\)'
fi
if wants batch_rows; then
  step batch_rows 180 "$PY" - "${SHAPES%% *}" "$BUNDLE/tokenizer" "${GPU_BATCH_TOKENS:-24}" <<'PY'
"""Each row of one mixed-adapter batch, decoded greedily through the arena's path, equals the row decoded alone."""
import sys
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bench.decode_columns import arena_requests, random_adapter
from bench.qlora_vs_lora import SHAPES, build_random_model
from pipelines.common.questions import load_questions
from pipelines.common.settings import Settings
from pipelines.generation.models import ModelBackend

shape, tokenizer_dir, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.backends.cuda.matmul.allow_tf32 = False  # float32 means float32 here
device = "cuda" if torch.cuda.is_available() else "cpu"
with tempfile.TemporaryDirectory() as tmp:
    model_dir = build_random_model(SHAPES / f"{shape}.json", Path(tmp),
                                   tokenizer_dir if Path(tokenizer_dir).is_dir() else None)
    adapter = random_adapter(model_dir, Path(tmp) / "adapter")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    backend = ModelBackend(model, AutoTokenizer.from_pretrained(model_dir), str(model_dir), quantized=False)
    backend.load_adapter(adapter)
    settings = Settings()
    questions = [{"question": q.question, "source": q.source}
                 for q in load_questions(settings.questions_file, require_reference=True) if q.source][:4]
    rows = [request for columns in arena_requests(questions, settings.corpus_dir, 3) for request in columns.values()]

    def decode(requests):
        texts = [""] * len(requests)
        for row, delta in backend.stream(requests, tokens):
            if isinstance(delta, str):
                texts[row] += delta
            elif delta is not None:
                raise SystemExit(f"row {row} failed: {delta}")
        return texts

    mixed = decode(rows)
    differ = [(row, mixed[row], alone) for row, request in enumerate(rows)
              if (alone := decode([request])[0]) != mixed[row]]
print(f"batch_rows: {shape} (random weights, float32) on {device}, {len(rows)} rows in one mixed-adapter batch "
      f"({sum(r.adapter is not None for r in rows)} on the adapter), {tokens} greedy tokens each")
for row, batched, alone in differ:
    print(f"  row {row} ({rows[row].adapter or 'base'}): batched {batched!r} != alone {alone!r}")
print(f"  rows equal to the row decoded alone: {len(rows) - len(differ)} of {len(rows)}")
raise SystemExit(1 if differ or not any(mixed) else 0)
PY
fi
if ((${#failed[@]})); then
  echo "gpu_check: FAILED: ${failed[*]}"
  exit 1
fi
echo "gpu_check: every step passed"
