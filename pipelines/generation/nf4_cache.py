"""A local model quantised to 4-bit NF4 once and kept, for CPU loads.

On a CPU, bitsandbytes quantises every linear layer at each load with ``torch.bucketize`` on one thread: 3.4 s of
the 3.7 s that loading SmolLM2-135M in 4-bit took here, where loading the same model already quantised and saved
(``save_pretrained`` of the 4-bit model) takes 0.4 s and gives identical logits. Every training run, DPO run and
transformers-engine start on a CPU pays that load, so the first one keeps its quantised copy under
``<cache_dir>/nf4/`` and the next ones read it. Only local folders of at most :data:`MAX_SOURCE_BYTES` of weights
(a CPU's models: the copy is the size of the model in 4-bit plus its embeddings) and only on a CPU (on CUDA the
quantisation is fast). The copy is named by the source's weights (name, size, modification time), bitsandbytes'
and transformers' versions and the quantisation config the load asks for, so a changed model, config or library
makes a new one; a copy that fails to load is quantised again and replaced; a cache that cannot be written (disk
full) only costs speed; at most :data:`KEEP_COPIES` copies are kept, the least recently loaded removed first.

Usage::

    model = load_nf4_cached(Path("models/smollm2"), cache_dir, config.to_json_string(),
                            quantize=lambda: from_pretrained(..., quantization_config=config))
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

#: Sources with more weight bytes than this are quantised at each load, not copied (a CPU serves small models).
MAX_SOURCE_BYTES = 2 * 1024**3
COMPLETE = "arena_nf4_complete"
#: Copies kept at most, the least recently loaded removed first (a bench's random model in a temporary folder
#: is a new source each run).
KEEP_COPIES = 6


def weight_files(source: Path) -> list[Path]:
    return sorted(source.glob("*.safetensors")) or sorted(source.glob("*.bin"))


def copy_folder(source: Path, cache_dir: Path, quantization: str) -> Path | None:
    """Where the copy of ``source`` quantised as ``quantization`` (the config's JSON) lives, or None when ``source``
    is not a local model to copy."""
    weights = weight_files(source) if source.is_dir() else []
    if not weights or sum(w.stat().st_size for w in weights) > MAX_SOURCE_BYTES:
        return None
    import bitsandbytes
    import transformers

    identity = [str(source.resolve()), quantization, bitsandbytes.__version__, transformers.__version__,
                *(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)]
    digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return cache_dir / "nf4" / f"{source.name}-{digest}"


def load_nf4_cached(source: Path, cache_dir: Path, quantization: str, quantize: Callable[[], object]):
    """``source`` in 4-bit NF4: its kept copy when there is a good one, else ``quantize()`` (which quantises as
    ``quantization``, the config's JSON, says), whose result is then kept for the next load. The model answers
    to ``source``'s name either way (PEFT writes it into adapters)."""
    folder = copy_folder(source, cache_dir, quantization)
    if folder is None:
        return quantize()
    model = _load_copy(folder) if (folder / COMPLETE).is_file() else None
    if model is None:
        model = quantize()
        if getattr(model, "is_loaded_in_4bit", False):  # a fallback to full precision is not worth keeping
            _keep(model, folder)
    model.name_or_path = model.config._name_or_path = str(source)
    return model


def _load_copy(folder: Path):
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(folder, device_map="cpu")
    except Exception as exc:  # a damaged copy: quantise again and replace it
        log.warning("The kept 4-bit copy %s does not load (%s): quantising the model again", folder, exc)
        return None
    if not getattr(model, "is_loaded_in_4bit", False):
        return None
    (folder / COMPLETE).touch()  # recently loaded: kept longest
    return model


def _keep(model, folder: Path) -> None:
    """Save ``model`` as ``folder``, whole or not at all (written aside, then renamed into place)."""
    aside = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        model.save_pretrained(aside)
        (aside / COMPLETE).write_text("saved whole\n")
        shutil.rmtree(folder, ignore_errors=True)  # a damaged copy, or one another process just wrote
        os.replace(aside, folder)
        copies = sorted(folder.parent.glob(f"*/{COMPLETE}"), key=lambda marker: marker.stat().st_mtime)
        for stale in copies[:-KEEP_COPIES]:
            shutil.rmtree(stale.parent, ignore_errors=True)
    except Exception as exc:  # disk full, read-only cache, a model transformers cannot save: quantise next time
        log.warning("Could not keep the 4-bit copy at %s (%s: %s): the next load quantises again", folder,
                    type(exc).__name__, exc)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
