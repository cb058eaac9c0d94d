"""Shared fixtures: a real Weaviate server, the real offline model, real SQLite files. No network."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.embeddings import OFFLINE_EMBEDDER, Embedder  # noqa: E402
from pipelines.ingest import ingest_folder  # noqa: E402
from pipelines.models import ModelBackend  # noqa: E402
from pipelines.settings import Settings  # noqa: E402
from pipelines.store import KnowledgeStore, connect  # noqa: E402
from pipelines.weaviate_server import WeaviateServer, free_ports  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"


def start_weaviate(data_dir: Path) -> WeaviateServer:
    http_port, grpc_port = free_ports(2)
    return WeaviateServer(Settings().resolved_weaviate_binary, data_dir, http_port=http_port,
                          grpc_port=grpc_port).start()


@pytest.fixture(scope="session")
def weaviate_server(tmp_path_factory):
    server = start_weaviate(tmp_path_factory.mktemp("weaviate") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory, weaviate_server) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        weaviate_http_port=weaviate_server.http_port,
        weaviate_grpc_port=weaviate_server.grpc_port,
        collection="TestDocs",
        max_new_tokens=32,
    )


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.load(OFFLINE_EMBEDDER)


@pytest.fixture(scope="session")
def knowledge(test_settings, embedder):
    client = connect(test_settings)
    store = KnowledgeStore(client, test_settings.collection, embedder)
    ingest_folder(store, test_settings.corpus_dir, words=test_settings.chunk_words,
                  overlap=test_settings.chunk_overlap_words)
    yield store
    client.close()


@pytest.fixture(scope="session")
def backend(test_settings) -> ModelBackend:
    backend = ModelBackend.load(test_settings)
    backend.load_adapter(test_settings.adapter_path)
    return backend
