"""Connecting to Weaviate makes no call out: the client's start-up checks (which ask PyPI for the client's
latest version) are skipped and replaced by the server's own readiness check, on the real test server."""

from __future__ import annotations

import socket

import pytest
from weaviate.connect.v4 import _ConnectionBase
from weaviate.exceptions import WeaviateStartUpError

from pipelines.common.settings import Settings
from pipelines.knowledge.store import connect
from pipelines.knowledge.weaviate_server import free_ports


def test_connect_asks_no_one_but_the_server(monkeypatch, test_settings):
    asked_pypi = []
    monkeypatch.setattr(_ConnectionBase, "_check_package_version", lambda self, colour: asked_pypi.append(colour))
    real_create_connection = socket.create_connection
    hosts = []

    def recording_create_connection(address, *args, **kwargs):
        hosts.append(address[0])
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording_create_connection)
    client = connect(test_settings)
    try:
        assert client.is_ready()
        assert client.collections.list_all() is not None  # a real request answered by the server
    finally:
        client.close()
    assert asked_pypi == []
    assert set(hosts) <= {"127.0.0.1", "localhost"}, hosts


def test_connect_to_a_port_where_nothing_listens_is_a_clear_error(tmp_path):
    http_port, grpc_port = free_ports(2)
    settings = Settings(data_dir=tmp_path, weaviate_http_port=http_port, weaviate_grpc_port=grpc_port)
    with pytest.raises(WeaviateStartUpError, match=f"127.0.0.1:{http_port}"):
        connect(settings)


def test_a_remote_weaviate_is_asked_for_grpc_on_weaviates_own_port(monkeypatch):
    """Weaviate listens for gRPC on 50051; the managed local server keeps 50061; a port given always wins (#30)."""
    assert Settings(weaviate_url="http://weaviate.internal:8080").weaviate_grpc_port == 50051
    assert Settings().weaviate_grpc_port == 50061
    assert Settings(weaviate_url="http://weaviate.internal:8080", weaviate_grpc_port=6000).weaviate_grpc_port == 6000
    monkeypatch.setenv("ARENA_WEAVIATE_URL", "http://weaviate.internal:8080")
    assert Settings().weaviate_grpc_port == 50051
    monkeypatch.setenv("ARENA_WEAVIATE_GRPC_PORT", "50061")
    assert Settings().weaviate_grpc_port == 50061


def test_health_reports_weaviate_down_when_its_grpc_port_does_not_answer(test_settings, tmp_path):
    """HTTP readiness alone said ok while every query (gRPC) failed: /healthz now makes a gRPC round trip."""
    from pipelines.feedback.store import FeedbackStore
    from pipelines.runtime import Runtime

    (dead_grpc_port,) = free_ports(1)  # nothing listens there
    feedback = FeedbackStore.open(tmp_path / "f.sqlite3")
    for grpc_port, expected in ((test_settings.weaviate_grpc_port, "ok"), (dead_grpc_port, "down")):
        settings = test_settings.model_copy(update={
            "weaviate_url": f"http://127.0.0.1:{test_settings.weaviate_http_port}", "weaviate_grpc_port": grpc_port})
        client = connect(settings)  # HTTP answers: connecting succeeds either way
        try:
            runtime = Runtime(settings, feedback, arena=None, scoring=None, client=client)
            status = runtime.health()["weaviate"]
        finally:
            client.close()
        assert status.startswith(expected), (grpc_port, status)
        if expected == "down":
            assert f"gRPC on port {dead_grpc_port}" in status and "ARENA_WEAVIATE_GRPC_PORT" in status
    feedback.close()
