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
