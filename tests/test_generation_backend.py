"""Both backends satisfy GenerationBackend structurally, checked on the classes (no model is loaded)."""

from __future__ import annotations

import inspect

import pytest

from pipelines.generation.backend import GenerationBackend
from pipelines.generation.models import ModelBackend
from pipelines.generation.openai_backend import OpenAICompatibleBackend

MEMBERS = ("model_id", "adapter_ids", "precision", "loads_adapter_folders", "location", "is_live", "has_adapter",
           "load_adapter", "stream", "concurrent_requests")
DATA = {"model_id", "adapter_ids", "precision"}  # set per instance in __init__


def test_the_member_list_is_the_protocols():
    declared = set(GenerationBackend.__annotations__) | {
        name for name in vars(GenerationBackend) if not name.startswith("_")}
    assert declared == set(MEMBERS)


@pytest.mark.parametrize("backend_class", [ModelBackend, OpenAICompatibleBackend])
def test_backend_has_every_member(backend_class):
    for name in MEMBERS:
        declared_in_init = name in DATA and name in inspect.getsource(backend_class.__init__)
        assert hasattr(backend_class, name) or declared_in_init, name
    assert isinstance(backend_class.loads_adapter_folders, bool)


@pytest.mark.parametrize("backend_class", [ModelBackend, OpenAICompatibleBackend])
def test_runtime_checkable_isinstance_without_loading(backend_class):
    bare = object.__new__(backend_class)  # no __init__: no model, no client
    for name in (*DATA, "base_url", "quantized"):  # what __init__ would set (properties read these)
        if not isinstance(getattr(backend_class, name, None), property):
            setattr(bare, name, "x")
    bare.batcher = None  # ModelBackend's concurrent_requests reads it (no batching across sessions)
    assert isinstance(bare, GenerationBackend)


@pytest.mark.parametrize("backend_class", [ModelBackend, OpenAICompatibleBackend])
def test_stream_takes_the_protocols_parameters(backend_class):
    parameters = list(inspect.signature(backend_class.stream).parameters)
    assert parameters[:4] == ["self", "requests", "max_new_tokens", "temperature"]


def test_both_backends_load_adapter_folders():  # the server's at run time (/v1/load_lora_adapter, #30)
    assert ModelBackend.loads_adapter_folders and OpenAICompatibleBackend.loads_adapter_folders
    assert ModelBackend.location == "in process"
    assert object.__new__(ModelBackend).is_live()
