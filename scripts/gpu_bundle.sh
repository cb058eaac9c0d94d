#!/usr/bin/env bash
# Pack what a GPU box with no network needs for the GPU checks (scripts/gpu_check.sh) into gpu-bundle/
# (git-ignored, about 55 MB: with the 6 MB tree, under the device tool's 64 MiB carry limit):
#   wheels/     bitsandbytes, peft, accelerate, psutil, pydantic(-settings), python-dotenv: pinned versions, no deps
#   tokenizer/  the offline model's tokenizer (the benchmarks build models of a given shape with random weights)
# Then, with the device tool: carry ["gpu-bundle"], command "bash scripts/gpu_check.sh".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ARENA_VENV:-${ARENA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-ft-arena}/venv}"
OUT="$ROOT/gpu-bundle"
pin() { grep -E "^$1==" "$ROOT/requirements.txt" | head -1; }
rm -rf "$OUT" && mkdir -p "$OUT/wheels" "$OUT/tokenizer"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64)
"$VENV/bin/pip" download --quiet --no-deps -d "$OUT/wheels" "$(pin bitsandbytes)" "$(pin peft)" "$(pin accelerate)" \
  "$(pin pydantic-settings)" "pydantic==$("$VENV/bin/python" -c 'import pydantic; print(pydantic.VERSION)')" \
  python-dotenv typing-inspection annotated-types
"$VENV/bin/pip" download --quiet --no-deps --only-binary=:all: "${PLATFORMS[@]}" -d "$OUT/wheels" \
  "psutil==$("$VENV/bin/python" -c 'import psutil; print(psutil.__version__)')"  # abi3: any Python 3
# pydantic-core is compiled: one wheel per Python version the GPU box may have.
CORE="pydantic-core==$("$VENV/bin/python" -c 'import pydantic_core; print(pydantic_core.__version__)')"
for py in 3.10 3.11 3.12 3.13; do
  "$VENV/bin/pip" download --quiet --no-deps --only-binary=:all: --python-version "$py" "${PLATFORMS[@]}" \
    -d "$OUT/wheels" "$CORE"
done
cd "$ROOT"
"$VENV/bin/python" - "$OUT/tokenizer" <<'PY'
import sys
from transformers import AutoTokenizer
from pipelines.common.settings import Settings
from pipelines.generation.models import materialize_offline_model
AutoTokenizer.from_pretrained(materialize_offline_model(Settings().cache_dir)).save_pretrained(sys.argv[1])
PY
du -sh "$OUT"
