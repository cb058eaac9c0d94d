"""Damaged adapter metadata (arena_adapter.json truncated, not JSON, not an object, odd fields): the registry
refuses the folder with a reason or shows the odd cells empty, never crashes (the Fine-tune tab lists the
registry when the app starts), and activating a damaged adapter keeps the one serving. No model: a recording
stand-in backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.finetune import build_finetune_tab, registry_frame
from pipelines.common.auth import AdminAuth
from pipelines.common.settings import Settings
from pipelines.training.config import METADATA_FILE
from pipelines.training.jobs import TrainingJobs
from pipelines.training.registry import AdapterError, activate, list_adapters, validate_adapter
from tests.tab_handlers import tab_handlers, value_with_id
from tests.test_registry import make_adapter

SERVING = "lumenhollow-qlora@1234abcd"
DAMAGED = {
    "truncated": (b'{"created_at": "2025-01-03T00:00:00", "steps": 3, "final_lo', "not JSON"),
    "not JSON": (b"<html>502 Bad Gateway</html>", "not JSON"),
    "empty": (b"", "not JSON"),
    "binary": (bytes(range(256)), "not JSON"),
    "a list": (b"[1, 2, 3]", "not a JSON object"),
    "a string": (b'"sft"', "not a JSON object"),
    "null": (b"null", "not a JSON object"),
}


class ServingBackend:
    """Serves ``SERVING`` as the fine-tuned adapter and records every adapter it is asked to load."""

    def __init__(self) -> None:
        self.adapter_ids = {"finetuned": SERVING}
        self.loaded: list[Path] = []

    def load_adapter(self, path: Path, name: str = "finetuned") -> str:
        self.loaded.append(path)
        self.adapter_ids[name] = path.name
        return path.name


@pytest.fixture()
def adapters(tmp_path: Path) -> Path:
    folder = tmp_path / "adapters"
    make_adapter(folder / "good", "2025-01-01T00:00:00")
    make_adapter(folder / "damaged", "2025-01-02T00:00:00")  # newer: it would be listed first
    return folder


@pytest.mark.parametrize(("content", "reason"), list(DAMAGED.values()), ids=list(DAMAGED))
def test_damaged_metadata_is_refused_with_a_reason_and_the_serving_adapter_is_kept(adapters, content, reason):
    damaged = adapters / "damaged"
    (damaged / METADATA_FILE).write_bytes(content)
    with pytest.raises(AdapterError, match=rf"damaged: {METADATA_FILE} is damaged \({reason}"):
        validate_adapter(damaged)
    assert [a.name for a in list_adapters([adapters])] == ["good"]  # left out; the others still listed

    backend = ServingBackend()
    with pytest.raises(AdapterError, match=METADATA_FILE):
        activate(backend, damaged)
    assert backend.loaded == [] and backend.adapter_ids == {"finetuned": SERVING}
    assert activate(backend, adapters / "good") == "good"  # a sound one still activates


def test_odd_metadata_fields_leave_empty_cells_not_a_crash(adapters):
    (adapters / "damaged" / METADATA_FILE).write_text(
        '{"created_at": 5, "steps": "many", "examples": [1], "duration_s": "long", "final_loss": "low", '
        '"steps_per_s": NaN, "method": null}')
    listed = {a.name: a for a in list_adapters([adapters])}
    odd = listed["damaged"]
    assert (odd.steps, odd.examples, odd.duration_s, odd.final_loss) == (0, 0, 0.0, None)
    row = next(r for r in registry_frame(list(listed.values())).to_dict("records") if r["adapter"] == "damaged")
    assert row["steps"] == 0 and row["final loss"] is None


def test_the_finetune_tab_builds_and_refuses_a_damaged_adapter(adapters, tmp_path):
    (adapters / "damaged" / METADATA_FILE).write_text("[]")  # listing this once raised AttributeError
    backend = ServingBackend()
    jobs = TrainingJobs(Settings(data_dir=tmp_path / "data"))
    handlers = tab_handlers(lambda: build_finetune_tab(jobs, None, AdminAuth(None), [adapters],
                                                       lambda path: activate(backend, path),
                                                       lambda: backend.adapter_ids["finetuned"]))
    listed = handlers["registry_update"]()
    assert value_with_id(listed, "ft-registry")["adapter"].tolist() == ["good"]
    refused = handlers["do_activate"]("", "damaged")
    assert "Choose an adapter from the list" in value_with_id(refused, "ft-active")
    assert backend.loaded == [] and backend.adapter_ids == {"finetuned": SERVING}


def test_a_served_adapter_with_damaged_metadata_gets_an_id_from_its_folder(adapters):
    """``adapter_id`` once raised on damaged metadata after the weights were swapped in (the app's start too)."""
    from pipelines.generation.models import adapter_id

    damaged = adapters / "damaged"
    for content, _reason in DAMAGED.values():
        (damaged / METADATA_FILE).write_bytes(content)
        assert adapter_id(damaged) == "damaged"
    (damaged / METADATA_FILE).write_text('{"data_hash": "0123456789abcdef"}')
    assert adapter_id(damaged) == "damaged@01234567"
