"""Replicas starting together race to create the knowledge collection (#30): each sees none and creates it, and
Weaviate refuses all but the first. ``ensure_collection`` takes the collection the other process made (and
still checks its embedding model). Two real processes on the tests' real Weaviate, released at one instant."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from pipelines.knowledge.store import EmbeddingMismatchError, KnowledgeStore, connect
from tests.conftest import ROOT

ROUNDS = 6

RACER = """
import json, sys, time
sys.path.insert(0, {root!r})
from pipelines.common.settings import Settings
from pipelines.knowledge.store import KnowledgeStore, connect

class Embedder:
    name, dimensions = "racing-embedder", 8

settings = Settings(weaviate_http_port={http}, weaviate_grpc_port={grpc})
client = connect(settings)
print("ready", flush=True)
first = float(sys.stdin.readline())  # the parent's start time, once every racer is connected
outcomes = []
for number, name in enumerate({names!r}):
    start = first + 0.5 * number
    store = KnowledgeStore(client, name, Embedder())
    while time.time() < start:  # every racer leaves the line at the same instant
        pass
    try:
        store.ensure_collection()
        outcomes.append("ok")
    except Exception as exc:
        outcomes.append(f"{{type(exc).__name__}}: {{exc}}")
client.close()
print(json.dumps(outcomes))
"""


class Embedder:
    name, dimensions = "racing-embedder", 8


def test_two_processes_creating_one_collection_both_get_it(weaviate_server, test_settings):
    names = [f"Race{uuid.uuid4().hex[:10]}" for _ in range(ROUNDS)]
    script = RACER.format(root=str(ROOT), http=weaviate_server.http_port, grpc=weaviate_server.grpc_port,
                          names=names)
    racers = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready", racer.stderr.read()[-2000:]
    start = time.time() + 1.0
    for racer in racers:
        racer.stdin.write(f"{start}\n")
        racer.stdin.flush()
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results == [["ok"] * ROUNDS] * 2, results
    client = connect(test_settings)
    try:
        for name in names:
            assert client.collections.exists(name)
            KnowledgeStore(client, name, Embedder()).ensure_collection()  # the recorded model matches
            with pytest.raises(EmbeddingMismatchError):  # and is still checked
                KnowledgeStore(client, name, type("Other", (), {"name": "other", "dimensions": 8})()
                               ).ensure_collection()
            client.collections.delete(name)
    finally:
        client.close()
