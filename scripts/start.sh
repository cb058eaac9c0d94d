#!/usr/bin/env bash
# Set up (cached after the first run) and start the arena on http://127.0.0.1:7860.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
VENV="${ARENA_VENV:-${ARENA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-ft-arena}/venv}"
cd "$ROOT" && exec "$VENV/bin/python" app.py
