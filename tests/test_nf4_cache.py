"""The kept 4-bit copy of a local model (pipelines/generation/nf4_cache.py), on the real offline model: the next
load reads it and answers with the same logits; a damaged copy is made again; a changed model, a hub id or a big
model gets no stale copy; a cache that cannot be written only costs speed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from pipelines.common.settings import Settings
from pipelines.generation import nf4_cache
from pipelines.generation.models import load_causal_lm, nf4_config, resolve_model_path
from pipelines.generation.nf4_cache import COMPLETE, copy_folder, load_nf4_cached

pytestmark = pytest.mark.integration  # loads the model

IDS = torch.tensor([[1, 504, 3458, 282, 4944, 314, 253, 1789]])
NF4 = nf4_config().to_json_string(use_diff=False)  # what load_causal_lm names its copies by


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits


def never() -> None:
    raise AssertionError("quantised again: the kept copy was not read")


@pytest.fixture(scope="module")
def source() -> Path:
    return Path(resolve_model_path(Settings()))


@pytest.fixture(scope="module")
def kept(source, tmp_path_factory) -> tuple[Path, torch.Tensor]:
    """A cache holding the offline model's copy, made by a first 4-bit load; that load's logits."""
    cache = tmp_path_factory.mktemp("cache")
    first = load_causal_lm(str(source), four_bit=True, cache_dir=cache)
    assert first.is_loaded_in_4bit
    return cache, logits(first)


def test_the_next_load_reads_the_kept_copy_and_gives_the_same_logits(source, kept):
    cache, first_logits = kept
    folder = copy_folder(source, cache, NF4)
    assert (folder / COMPLETE).is_file() and folder.parent == cache / "nf4"
    model = load_nf4_cached(source, cache, NF4, quantize=never)
    assert model.is_loaded_in_4bit and model.name_or_path == model.config._name_or_path == str(source)
    assert model.lm_head.weight is model.get_input_embeddings().weight  # the tie survives the copy
    assert torch.equal(logits(model), first_logits)


def test_a_damaged_copy_is_quantised_again_and_replaced(source, kept, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(kept[0], cache)
    weights = copy_folder(source, cache, NF4) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    quantised = []
    model = load_nf4_cached(source, cache, NF4, quantize=lambda: quantised.append(1) or load_causal_lm(
        str(source), four_bit=True, cache_dir=tmp_path / "elsewhere"))
    assert quantised == [1] and torch.equal(logits(model), kept[1])
    assert torch.equal(logits(load_nf4_cached(source, cache, NF4, quantize=never)), kept[1])  # whole again
    assert not list((cache / "nf4").glob(".*partial"))  # nothing left half-written


def test_a_changed_model_or_config_a_hub_id_or_a_big_model_gets_no_stale_copy(source, tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    before = copy_folder(model, tmp_path, NF4)
    os.utime(model / "model.safetensors", ns=(1, 1))  # the same file, changed
    assert copy_folder(model, tmp_path, NF4) not in (None, before)
    assert copy_folder(model, tmp_path, nf4_config().to_json_string()) != copy_folder(model, tmp_path, NF4)  # config
    assert copy_folder(Path("HuggingFaceTB/SmolLM2-135M-Instruct"), tmp_path, NF4) is None  # not a local folder
    monkeypatch.setattr(nf4_cache, "MAX_SOURCE_BYTES", 3)
    assert copy_folder(model, tmp_path, NF4) is None


def test_a_cache_that_cannot_be_written_only_costs_speed(source, kept, tmp_path, caplog):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    model = load_nf4_cached(source, blocked, NF4, quantize=lambda: load_causal_lm(
        str(source), four_bit=True, cache_dir=tmp_path / "elsewhere"))
    assert torch.equal(logits(model), kept[1])
    assert "Could not keep the 4-bit copy" in caplog.text


def test_only_the_most_recently_loaded_copies_are_kept(source, kept, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(kept[0], cache)
    (copy_folder(source, cache, NF4) / COMPLETE).touch()
    monkeypatch.setattr(nf4_cache, "KEEP_COPIES", 2)
    for age, name in enumerate(["old-model", "older-model"]):  # two stale copies of other models
        (cache / "nf4" / name).mkdir()
        marker = cache / "nf4" / name / COMPLETE
        marker.write_text("saved whole\n")
        os.utime(marker, (1000 - age, 1000 - age))
    elsewhere = tmp_path / "model"
    shutil.copytree(source, elsewhere)  # another source: a new copy is made, the oldest others go
    load_nf4_cached(elsewhere, cache, NF4, quantize=lambda: load_causal_lm(str(source), four_bit=True,
                                                                      cache_dir=tmp_path / "unused"))
    assert sorted(folder.name for folder in (cache / "nf4").iterdir()) == sorted(
        [copy_folder(source, cache, NF4).name, copy_folder(elsewhere, cache, NF4).name])


def test_a_model_that_cannot_be_saved_is_still_returned(source, kept, tmp_path, caplog):
    """transformers cannot save a model loaded from a 4-bit copy again (its deserialiser has no reverse): keeping
    is an optimisation, so a failed save never fails the load."""
    model = load_nf4_cached(source, tmp_path / "cache", NF4,
                            quantize=lambda: load_nf4_cached(source, kept[0], NF4, never))
    assert torch.equal(logits(model), kept[1])
    assert "Could not keep the 4-bit copy" in caplog.text and not list((tmp_path / "cache" / "nf4").glob("*/model*"))
