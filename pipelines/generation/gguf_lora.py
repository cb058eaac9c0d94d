"""PEFT LoRA adapters as GGUF LoRA files for llama.cpp, made by llama.cpp's own converter.

llama.cpp applies a LoRA adapter only from a GGUF file (``general.type = adapter``). Its converter,
``convert_lora_to_gguf.py``, is not in the llama-cpp-python wheel; the setup script copies it (with the
``conversion`` package it imports) out of the llama-cpp-python source archive the wheel was built from,
into ``<cache>/llama.cpp-converter``. A converted adapter is cached by the hash of its files, so loading
the same adapter again costs nothing and a retrained one is converted afresh.

Example::

    gguf = gguf_lora_file(Path("assets/adapters/lumenhollow-qlora"), base_folder, settings.cache_dir)
    model.context(gguf)          # a LlamaCppModel's context with this adapter applied
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pipelines.common.atomic_file import replaced_atomically

CONVERTER_DIRNAME = "llama.cpp-converter"
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


class AdapterConversionError(RuntimeError):
    """The adapter could not be turned into a GGUF LoRA file; the message says why and what to do."""


def converter_script(cache_dir: Path) -> Path | None:
    """llama.cpp's ``convert_lora_to_gguf.py`` where the setup script put it, or None when it is not there."""
    script = cache_dir / CONVERTER_DIRNAME / "convert_lora_to_gguf.py"
    return script if script.is_file() else None


def adapter_hash(adapter: Path) -> str:
    """A short hash of the adapter's config and weights: the cache key of its GGUF file."""
    digest = hashlib.sha256()
    for name in _ADAPTER_FILES:
        file = adapter / name
        if file.is_file():
            digest.update(name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def gguf_lora_file(adapter: Path, base_folder: Path, cache_dir: Path, timeout_s: float = 300.0) -> Path:
    """The GGUF LoRA file of the PEFT adapter folder ``adapter`` (converted once, then cached).

    ``base_folder`` is the base model's Hugging Face folder (its ``config.json`` names the architecture the
    converter maps tensor names for).
    """
    if not (adapter / "adapter_config.json").is_file():
        raise AdapterConversionError(f"No LoRA adapter at {adapter} (adapter_config.json missing)")
    target = cache_dir / "gguf-lora" / f"{adapter.name}-{adapter_hash(adapter)}.gguf"
    if target.is_file():
        return target
    script = converter_script(cache_dir)
    if script is None:
        raise AdapterConversionError(
            f"llama.cpp's adapter converter is not in {cache_dir / CONVERTER_DIRNAME}: run `bash scripts/setup.sh` "
            "(it installs llama-cpp-python and its converter), or set ARENA_ENGINE=transformers."
        )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # the base folder is local: never ask the Hub
    with replaced_atomically(target) as partial:
        command = [sys.executable, str(script), "--base", str(base_folder), "--outtype", "f32",
                   "--outfile", str(partial), str(adapter)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise AdapterConversionError(f"Converting {adapter} to GGUF took over {timeout_s:.0f} s") from exc
        if done.returncode != 0 or not partial.is_file():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise AdapterConversionError(f"llama.cpp's converter refused the adapter at {adapter}: {tail}")
    return target
