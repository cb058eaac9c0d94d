#!/usr/bin/env bash
# Set up (cached after the first run) and run the linter and the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --dev
VENV="${ARENA_VENV:-${ARENA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-ft-arena}/venv}"
cd "$ROOT"
"$VENV/bin/ruff" check .
# Two workers (ARENA_TEST_WORKERS; 1: one process), each given whole files in order (--dist loadfile: a module's
# tests share its app and run in their written order; the files on the shared app go to one worker together, so it
# starts once: tests/conftest.py), and one thread of math each (OMP_NUM_THREADS=1): two processes of two threads on
# two cores spin-wait on each other, which made a decode step 30 times slower.
WORKERS="${ARENA_TEST_WORKERS:-2}"
if [[ "$WORKERS" -gt 1 ]]; then
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  set -- -n "$WORKERS" --dist loadfile "$@"
fi
# The tests run with no network but loopback (their own network namespace) where the machine allows one, so the
# suite shows the app starting, answering, scoring and serving its pages while calling out to nothing.
# ARENA_TESTS_NETWORK=host runs them on the machine's network instead.
if [[ "${ARENA_TESTS_NETWORK:-none}" == none ]] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  echo "tests run with no network but loopback (unshare -n)"
  exec unshare -n sh -c 'ip link set lo up && ARENA_TESTS_OFFLINE=1 exec "$0" -m pytest "$@"' "$VENV/bin/python" "$@"
fi
if [[ "${CI:-}" =~ ^(true|1|yes)$ ]]; then
  # CI keeps going on the host network, so the rest of the suite still reports, but says so loudly, and
  # tests/test_no_calls_out.py fails the run: a CI pass means the suite ran with the network unreachable.
  echo "!!! CI: the tests are NOT isolated from the network: ARENA_TESTS_NETWORK=${ARENA_TESTS_NETWORK:-none}," \
       "ip: $(command -v ip || echo missing), unshare -n: $(unshare -n true 2>&1 && echo ok || true)" >&2
  echo "!!! tests/test_no_calls_out.py will fail this run (give the runner CAP_SYS_ADMIN or user namespaces)" >&2
fi
echo "tests run on the machine's network (no network namespace here)"
"$VENV/bin/python" -m pytest "$@"
