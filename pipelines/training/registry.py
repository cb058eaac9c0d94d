"""The adapter registry: every complete adapter folder (standard PEFT format) with its training metadata.

A folder counts only when complete: ``adapter_config.json``, weights, and the metadata the training
commands write last; ``.partial`` folders of unfinished runs never appear. The same folders load in
vLLM or TGI as LoRA adapters.

A new version replaces an adapter in two renames (the old one aside to ``<name>.old.partial``, the new one into
place). A crash between them leaves no ``<name>`` folder: :func:`recover_adapter` puts the old version back, and
the registry does so for every folder it lists, so the previous adapter is never lost (nor deleted as a leftover).

Example::

    for info in list_adapters([settings.data_dir / "adapters", settings.adapter_path.parent]):
        print(info.adapter_id, info.final_loss)
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.training.config import METADATA_FILE

WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
RETIRED_SUFFIX = ".old.partial"
log = logging.getLogger(__name__)


class AdapterError(ValueError):
    """An adapter folder is incomplete or damaged; the message says what is wrong."""


@dataclass(frozen=True)
class AdapterInfo:
    path: Path
    method: str
    base_model: str
    created_at: str
    steps: int
    final_loss: float | None
    examples: int
    quantization: str
    device: str
    duration_s: float
    steps_per_s: float | None = None  # the Trainer's own rate; with peak GPU memory it compares QLoRA and LoRA runs
    peak_gpu_memory_mb: float | None = None  # CUDA runs only
    recipe: str = ""  # closed-book or reading (SFT runs); empty for DPO and older adapters

    @property
    def name(self) -> str:
        return self.path.name


def validate_adapter(path: Path) -> dict:
    """The adapter's metadata; :class:`AdapterError` for a missing, incomplete or corrupt folder."""
    if not path.is_dir():
        raise AdapterError(f"{path.name}: not an adapter folder")
    if path.name.endswith(".partial"):
        raise AdapterError(f"{path.name}: an unfinished training run, not an adapter")
    try:
        config = json.loads((path / "adapter_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{path.name}: adapter_config.json is missing or not JSON ({exc})") from exc
    if "peft_type" not in config:
        raise AdapterError(f"{path.name}: adapter_config.json is not a PEFT adapter config")
    weights = next((path / name for name in WEIGHT_FILES if (path / name).is_file()), None)
    if weights is None:
        raise AdapterError(f"{path.name}: the adapter weights are missing")
    if weights.suffix == ".safetensors":
        _check_safetensors(weights)
    try:
        meta = json.loads((path / METADATA_FILE).read_text())
    except OSError:
        return {}
    except ValueError as exc:  # UnicodeDecodeError too: a binary file
        raise AdapterError(f"{path.name}: {METADATA_FILE} is damaged (not JSON: {exc})") from exc
    if not isinstance(meta, dict):
        raise AdapterError(f"{path.name}: {METADATA_FILE} is damaged (not a JSON object)")
    return meta


def _check_safetensors(path: Path) -> None:
    """Read the header and check the file holds every tensor it declares (a truncated copy fails here)."""
    try:
        with path.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        end = max((meta["data_offsets"][1] for key, meta in header.items() if key != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AdapterError(f"{path.parent.name}: the weights file is damaged ({type(exc).__name__})") from exc
    if path.stat().st_size < 8 + size + end:
        raise AdapterError(f"{path.parent.name}: the weights file is truncated")


def retired_path(output_dir: Path) -> Path:
    """Where the previous version of an adapter waits while the new one takes its place; a ``.partial`` name, so
    the registry never lists it."""
    return output_dir.with_name(output_dir.name + RETIRED_SUFFIX)


def recover_adapter(output_dir: Path) -> bool:
    """Settle a replacement a crash interrupted: with no ``output_dir``, the version set aside goes back (True);
    with one, the swap had ended and the version set aside is a leftover, deleted."""
    retired = retired_path(output_dir)
    if not retired.is_dir():
        return False
    if output_dir.exists():
        shutil.rmtree(retired, ignore_errors=True)
        return False
    retired.rename(output_dir)
    log.warning("recovered the adapter %s: a crash had left it set aside while a new version was saved", output_dir)
    return True


def recover_adapters(folder: Path) -> list[Path]:
    """:func:`recover_adapter` for every adapter under ``folder`` set aside by an interrupted save; the ones put
    back."""
    if not folder.is_dir():
        return []
    aside = [path.with_name(path.name.removesuffix(RETIRED_SUFFIX)) for path in sorted(folder.iterdir())
             if path.name.endswith(RETIRED_SUFFIX) and path.is_dir()]
    return [path for path in aside if recover_adapter(path)]


def list_adapters(folders: list[Path]) -> list[AdapterInfo]:
    """Complete adapters under the given folders, newest first; damaged ones are left out, and an adapter a
    crash left set aside (:func:`recover_adapter`) is put back first.

    Each adapter appears once, however it was reached: the folders may overlap (``ARENA_ADAPTER_PATH``
    inside ``data/adapters/``, a relative and an absolute path, a symlink), so paths compare resolved.
    """
    found: list[AdapterInfo] = []
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        recover_adapters(folder)
        for path in sorted(folder.iterdir()):
            if path.resolve() in seen:
                continue
            try:
                meta = validate_adapter(path)
            except AdapterError:
                continue
            seen.add(path.resolve())
            found.append(AdapterInfo(
                path=path, method=str(meta.get("method", "sft")), base_model=str(meta.get("base_model", "")),
                created_at=str(meta.get("created_at", "")), steps=_count(meta.get("steps")),
                final_loss=_number(meta.get("final_loss")), examples=_count(meta.get("examples")),
                quantization=str(meta.get("quantization", "")), device=str(meta.get("device", "")),
                duration_s=_number(meta.get("duration_s")) or 0.0, steps_per_s=_number(meta.get("steps_per_s")),
                peak_gpu_memory_mb=_number(meta.get("peak_gpu_memory_mb")),
                recipe=str(meta.get("recipe") or ""),
            ))
    return sorted(found, key=lambda info: info.created_at, reverse=True)


def _number(value: object) -> float | None:
    """A metadata number, or None where it is missing or not a number (older or hand-written metadata): an odd
    field leaves its cell empty instead of taking the whole registry down."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(value: object) -> int:
    """A metadata count (steps, examples); 0 where it is missing or not a finite number."""
    number = _number(value)
    return int(number) if number is not None and math.isfinite(number) else 0


def activate(backend, path: Path, name: str = "finetuned") -> str:
    """Serve ``path`` as the fine-tuned column's adapter; a damaged folder is refused and the old adapter kept."""
    from pipelines.generation.models import ModelLoadError

    validate_adapter(path)
    try:
        return backend.load_adapter(path, name)
    except ModelLoadError as exc:
        raise AdapterError(str(exc)) from exc
