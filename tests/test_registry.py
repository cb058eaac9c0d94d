"""The adapter registry lists each adapter folder once, however the searched folders overlap. No model."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.training.config import METADATA_FILE
from pipelines.training.registry import list_adapters


def make_adapter(folder: Path, created_at: str) -> Path:
    """A minimal complete adapter: PEFT config, weights (an empty safetensors file) and metadata."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    header = b"{}"
    (folder / "adapter_model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    (folder / METADATA_FILE).write_text(json.dumps({"created_at": created_at, "steps": 3}))
    return folder


def test_an_adapter_inside_the_data_dir_is_listed_once(tmp_path, monkeypatch):
    adapters = tmp_path / "data" / "adapters"
    make_adapter(adapters / "mine", "2025-01-02T00:00:00")
    make_adapter(adapters / "older", "2025-01-01T00:00:00")
    monkeypatch.chdir(tmp_path)
    # The app's folders: data/adapters, and ARENA_ADAPTER_PATH's parent (data/adapters/mine -> data/adapters),
    # once relative, once absolute, once through a symlink.
    link = tmp_path / "link"
    os.symlink(adapters, link)
    found = list_adapters([adapters, Path("data/adapters/mine").parent, link])
    assert [a.name for a in found] == ["mine", "older"]


def test_adapters_of_distinct_folders_all_appear(tmp_path):
    make_adapter(tmp_path / "a" / "one", "2025-01-01T00:00:00")
    make_adapter(tmp_path / "b" / "one", "2025-01-03T00:00:00")
    found = list_adapters([tmp_path / "a", tmp_path / "b"])
    assert [a.path for a in found] == [tmp_path / "b" / "one", tmp_path / "a" / "one"]
