#!/usr/bin/env bash
# The GPU checks of the fine-tuning issue, in one run on a GPU box with no network (the device tool), from
# what scripts/gpu_bundle.sh packed into gpu-bundle/. Prints and writes to $OUT (or gpu-results/):
#   1. QLoRA (4-bit NF4, bf16 compute, paged 8-bit AdamW, gradient checkpointing) vs 16-bit LoRA through the
#      training command: steps/s and peak GPU memory, Qwen2.5-0.5B and -1.5B shapes (random weights)
#   2. bench/decode_columns.py: one, two and three columns decoded as the arena batches them
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="${OUT:-$ROOT/gpu-results}"; mkdir -p "$RESULTS"
BUNDLE="$ROOT/gpu-bundle"
cd "$ROOT"
PY="$(command -v python || command -v python3)"
python() { "$PY" "$@"; }
# Wheels go to their own folder on PYTHONPATH: works where the system Python is marked externally managed.
DEPS="${TMPDIR:-/tmp}/arena-gpu-deps"; export PYTHONPATH="$DEPS${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$RESULTS/gpu.txt"
# Install only what this machine lacks, from the bundle (never from an index).
missing=()
for pair in bitsandbytes:bitsandbytes peft:peft accelerate:accelerate psutil:psutil pydantic:pydantic pydantic_core:pydantic-core \
            pydantic_settings:pydantic-settings dotenv:python-dotenv typing_inspection:typing-inspection \
            annotated_types:annotated-types; do
  python -c "import ${pair%%:*}" 2>/dev/null || missing+=("${pair##*:}")
done
if ((${#missing[@]})); then
  echo "installing from the bundle: ${missing[*]}"
  python -m pip install --quiet --no-index --no-deps --target "$DEPS" --find-links "$BUNDLE/wheels" "${missing[@]}" \
    || exit 1
fi
python -c "import torch, transformers, peft, bitsandbytes; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, 'peft', peft.__version__, 'bitsandbytes', bitsandbytes.__version__)" \
  | tee "$RESULTS/versions.txt"
export HF_HUB_OFFLINE=1 ARENA_DATA_DIR=/tmp/arena-data
# step NAME SECONDS COMMAND...: full log to $RESULTS/NAME.log, the result lines (and any failure) printed
step() {
  local name=$1 limit=$2 code=0; shift 2
  timeout "$limit" "$@" >"$RESULTS/$name.log" 2>&1 || code=$?
  grep -E '^(qlora_vs_lora|decode_columns):|^  ' "$RESULTS/$name.log" | grep -v 'warnings.warn'
  if ((code == 124)); then echo "$name: TIMED OUT after ${limit} s"; elif ((code)); then
    echo "$name: FAILED (exit $code):"; tail -5 "$RESULTS/$name.log"; fi
}
SHAPES="${GPU_SHAPES:-qwen2.5-0.5b-instruct qwen2.5-1.5b-instruct}"  # GPU_SHAPES=tiny-qwen2: a dry run on a CPU
for shape in $SHAPES; do  # under 10 minutes in all, the device tool's limit per command
  step "qlora_vs_lora-$shape" 220 "$PY" bench/qlora_vs_lora.py --shape "$shape" --tokenizer "$BUNDLE/tokenizer" \
    --steps "${GPU_TRAIN_STEPS:-30}"
done
step decode_columns 120 "$PY" bench/decode_columns.py --shape "${SHAPES%% *}" --tokenizer "$BUNDLE/tokenizer" \
  ${GPU_DECODE_ARGS:-}
