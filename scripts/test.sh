#!/usr/bin/env bash
# Set up (cached after the first run) and run the linter and the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --dev
VENV="${ARENA_VENV:-${ARENA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-ft-arena}/venv}"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
