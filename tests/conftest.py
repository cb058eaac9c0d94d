"""Shared fixtures: a real Weaviate server, the real offline model, real SQLite files. No network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# The app as a user starts it (RunningApp: the app, API, browser and reliability tests) runs the engine a new user
# gets: ARENA_ENGINE=auto, which is llama.cpp where the README's setup installed it (CI checks that it did:
# tests/test_api.py). In-process tests of the model (the `backend` fixture, 4-bit, GPU-shaped paths, equal greedy
# answers in any batch) run the transformers engine; the llama.cpp engine's own are in tests/test_llama_cpp.py.
# ARENA_TEST_APP_ENGINE=transformers runs the apps on transformers instead.
APP_ENGINE = os.environ.get("ARENA_TEST_APP_ENGINE", "auto")
os.environ.setdefault("ARENA_ENGINE", "transformers")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.common.settings import Settings  # noqa: E402
from pipelines.generation.models import ModelBackend  # noqa: E402
from pipelines.knowledge.base import KnowledgeBase  # noqa: E402
from pipelines.knowledge.embeddings import OFFLINE_EMBEDDER, Embedder  # noqa: E402
from pipelines.knowledge.ingest import folder_files  # noqa: E402
from pipelines.knowledge.store import connect  # noqa: E402
from pipelines.knowledge.weaviate_server import WeaviateServer, free_ports  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"

# Hypothesis (tests/test_fuzz_*.py): "ci" is derandomized with a bounded example count, so CI is repeatable and
# quick; HYPOTHESIS_PROFILE=deep runs 2000 random examples per property (docs/fuzzing.md).
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None, print_blob=True,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("deep", max_examples=2000, deadline=None, print_blob=True,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
def knowledge_base(test_settings, embedder):
    """The sample corpus ingested into the test collection, through the app's own ingestion path."""
    client = connect(test_settings)
    kb = KnowledgeBase(client, embedder, test_settings)
    report = kb.ingest_files(None, folder_files(test_settings.corpus_dir))
    assert not report.failed, report.failed
    yield kb
    client.close()


@pytest.fixture(scope="session")
def knowledge(knowledge_base):
    return knowledge_base.store()


@pytest.fixture
def store(tmp_path):
    """A fresh feedback store in a SQLite file of the test's own, ``feedback.sqlite3`` (a module may override it,
    as the PostgreSQL queue tests do)."""
    from pipelines.feedback.store import FeedbackStore

    feedback = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    yield feedback
    feedback.close()


@pytest.fixture(scope="session")
def backend(test_settings) -> ModelBackend:
    backend = ModelBackend.load(test_settings)
    backend.load_adapter(test_settings.adapter_path)
    return backend


def ask_in_the_ui(client, question: str):
    """Ask through the arena tab's own (undocumented) ``/ask`` event, as a browser would: gradio_client has no
    API info for an undocumented event, so it is given every non-State input (the three columns' chat
    histories, empty) and fills the session State itself."""
    return client.predict(question, [], [], [], api_name="/ask")


class RunningApp:
    """``python app.py`` started as a user starts it, on free ports, with its own data dir."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        port, http_port, grpc_port = free_ports(3)
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "ARENA_ENGINE": APP_ENGINE, "ARENA_DATA_DIR": str(data_dir), "ARENA_PORT": str(port),
                    "ARENA_WEAVIATE_HTTP_PORT": str(http_port), "ARENA_WEAVIATE_GRPC_PORT": str(grpc_port),
                    "PYTHONUNBUFFERED": "1", **env}
        self.log = data_dir / "app.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> RunningApp:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"app exited early:\n{self.log.read_text()[-3000:]}")
            try:  # ready when /healthz answers: the app adds it just after Gradio starts serving its pages
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return self
            except urllib.error.HTTPError as answer:
                if answer.code != 404:  # 503: up, with a part down (what some tests arrange)
                    return self
                time.sleep(1)
            except OSError:
                time.sleep(1)
        raise AssertionError(f"app did not start in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()



SHARED_APP_PASSWORD = "letmein"


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory):
    """One app for the API and reliability tests: an app start is the suite's most expensive set-up. The
    reliability tests that kill, restart and stop an app take it last (``lifecycle_app``); tests that configure an
    app otherwise start their own."""
    app = RunningApp(tmp_path_factory.mktemp("shared-app"), ARENA_MAX_NEW_TOKENS="8", ARENA_VOTES_PER_MINUTE="100",
                     ARENA_ADMIN_PASSWORD=SHARED_APP_PASSWORD)
    yield app.start()
    app.stop()


def running(app: RunningApp) -> RunningApp:
    """``app``, started again (same data dir and ports) if a test before stopped or killed it."""
    return app if app.process is not None and app.process.poll() is None else app.start()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL server for the feedback store's tests (Debian's package)."""
    import shutil
    import tempfile

    from tests.postgres import PostgresServer

    root = Path(tempfile.mkdtemp(prefix="arena-postgres-"))  # not under pytest's 0700 folder: may run as postgres
    server = PostgresServer(root).start()
    yield server.url
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url) -> str:
    """A new, empty database on the test PostgreSQL server, for one test."""
    from tests.postgres import create_database

    return create_database(postgres_url)


def openai_server_log() -> Path:
    """The ``openai_server`` log of this test worker (one per worker): a test can count the requests it served."""
    return ARTIFACTS / f"openai-server-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"


@pytest.fixture(scope="session")
def openai_server(test_settings) -> str:
    """A real OpenAI-compatible server (``transformers serve``) on loopback, serving local model folders.

    Yields the base URL (``.../v1``); a request's model name is a model folder's path (the offline model's:
    ``resolve_model_path(test_settings)``), loaded on first use, as vLLM picks a served model by name.
    """
    (port,) = free_ports(1)
    log = openai_server_log()
    ARTIFACTS.mkdir(exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "transformers"), "serve", "--host", "127.0.0.1",
             "--port", str(port), "--device", "cpu"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"transformers serve did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(1)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


# Fixtures that start Weaviate, load a model (the generation model or the embedder), start the app,
# drive a browser, start PostgreSQL or an OpenAI-compatible server, or serve the Weaviate binary.
# pytest lists a test's fixtures transitively, so naming the roots covers everything built on them
# (test_settings, knowledge_base, knowledge, postgres_database, ...).
HEAVY_FIXTURES = frozenset({
    "weaviate_server", "embedder", "backend", "postgres_url", "openai_server",  # conftest
    "shared_app", "api_app", "fast_app", "lifecycle_app", "space_app", "app_url", "page", "release_server",  # modules'
    "batch_run", "llama",
})
# Tests that start the app, train, or run a model-loading command in their own body.
HEAVY_TESTS = frozenset({
    "test_llama_cpp.py::test_auto_picks_llama_cpp_for_the_offline_model_where_it_and_its_converter_are_installed",
    "test_runtime.py::test_missing_model_and_unreachable_weaviate_are_reported",
    "test_runtime.py::test_a_managed_weaviate_that_exits_at_start_is_tried_twice_then_disables_only_rag",
    "test_answer_quality_bench.py::test_answer_quality_table_matches_its_answers",
    "test_batch_evaluation.py::test_batch_report_matches_the_stored_scores",
    "test_training_data.py::test_command_line_trains_on_a_dataset_file",
    "test_gpu_benches.py::test_qlora_vs_lora_trains_both_ways_through_the_training_command",
    "test_gpu_benches.py::test_decode_columns_batches_a_random_shape_with_a_random_adapter",
    "test_gpu_benches.py::test_a_random_adapter_changes_the_answer",
    "test_gpu_benches.py::test_gpu_check_compares_every_mixed_batch_row_with_the_row_alone",
    "test_gpu_benches.py::test_gpu_check_fails_a_crashed_step_and_a_silent_4bit_fall_back_and_still_runs_the_others",
})
# Parametrised fixtures whose param reaches a heavy fixture through request.getfixturevalue.
HEAVY_PARAMS = frozenset({("target", "postgresql")})


#: The files whose tests talk to ``shared_app``: the test workers run them as one unit (see below), so the app starts
#: once in the suite, not once per worker. A file on the shared app missing here fails the collection.
SHARED_APP_FILES = frozenset({"test_api.py", "test_reliability.py"})
#: Likewise the files on ``openai_server`` (``transformers serve``: about 8 s of CPU to start, then its model).
OPENAI_SERVER_FILES = frozenset({"test_judge.py", "test_openai_backend.py", "test_pair_generation.py",
                                 "test_question_generation_model.py"})
#: Each session-scoped fixture whose files run as one unit, and the unit's files.
UNITS = {"shared_app": ("shared-app", SHARED_APP_FILES), "openai_server": ("openai-server", OPENAI_SERVER_FILES)}


def unit_of(file_name: str) -> str:
    """The scheduling unit of a test file: its fixture's unit (``UNITS``), else the file itself."""
    return next((unit for unit, files in UNITS.values() if file_name in files), file_name)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # ahead of xdist's own choice; a no-op without xdist
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` (scripts/test.sh), with each of ``UNITS`` as one unit: a file's tests stay together and
    in their written order on one worker (a module's tests share its app), and the files on the shared app (or on
    the OpenAI-compatible server) share a worker. (xdist's ``loadgroup`` marks do not reach its scheduler under
    pytest 9: its node ids no longer follow the ``_nodeid`` that xdist rewrites.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False  # files go out longest first (the collection's order, below)

    class FilesWithTheSharedAppTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            unit = unit_of(Path(file).name)
            return file if unit == Path(file).name else unit

    return FilesWithTheSharedAppTogether(config, log)


#: Seconds each test file took in a whole run (``python scripts/file_durations.py``, from its JUnit XML): the
#: files are handed out longest first, so the two workers do not end with one slow file left on one of them while
#: the other sits idle (xdist's own order, most tests first, sent the one-test files of a minute or more last).
FILE_DURATIONS = Path(__file__).with_name("file_durations.json")


def longest_files_first(items: list) -> None:
    """Reorder ``items`` in place: files by their recorded seconds, longest first (each of ``UNITS`` as one, a file
    not yet recorded as a middling one); each file's tests keep their written order."""
    recorded = json.loads(FILE_DURATIONS.read_text()) if FILE_DURATIONS.is_file() else {}
    middling = sorted(recorded.values())[len(recorded) // 2] if recorded else 0.0
    unit_seconds: dict[str, float] = defaultdict(float)
    for name in {item.path.name for item in items}:
        unit_seconds[unit_of(name)] += recorded.get(name, middling)
    items.sort(key=lambda item: (-unit_seconds[unit_of(item.path.name)], unit_of(item.path.name)))


def pytest_collection_modifyitems(config, items) -> None:
    """Hand out files longest first, and mark as ``integration`` every test that needs a heavy fixture, so
    ``-m "not integration"`` runs the fast unit tests alone. Nothing is deselected by default: CI runs everything."""
    longest_files_first(items)
    for fixture, (_unit, files) in UNITS.items():
        users = {item.path.name for item in items if fixture in getattr(item, "fixturenames", ())}
        if users - files:
            raise pytest.UsageError(f"{sorted(users - files)} use {fixture}: add them to its files in UNITS in "
                                    "tests/conftest.py, so it starts once")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (HEAVY_FIXTURES.intersection(getattr(item, "fixturenames", ()))
                or f"{item.path.name}::{item.originalname}" in HEAVY_TESTS
                or any(isinstance(value, str) and (name, value) in HEAVY_PARAMS for name, value in params.items())):
            item.add_marker(pytest.mark.integration)
