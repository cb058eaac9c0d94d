"""The admin password guards every action that changes the app: each public endpoint whose signature takes
``admin_password`` and each UI handler with a password box among its inputs (both found in the whole app, so a
new guarded action is tested without listing it here), on a stub runtime (scripted backend, SQLite store) whose
knowledge base, training jobs, adapter activation, DPO step and batch evaluation are recording stand-ins.

Without the password, and with a wrong one, a call is refused with a message naming the admin password and
changes nothing (no write reaches the stand-ins, the store or the disk, no generation runs); with the right one
it gets past the guard and does its work.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import Mock, create_autospec

import gradio as gr
import pandas as pd
import pytest
from gradio.utils import get_upload_folder

from components.api import PUBLIC_ENDPOINTS
from components.evaluation import TYPE_COLUMNS
from pipelines.common.auth import AdminAuth
from pipelines.common.questions import load_questions
from pipelines.common.settings import Settings
from pipelines.evaluation.question_tags import EDITABLE_TYPES, type_rows
from pipelines.knowledge.base import KnowledgeBase
from pipelines.knowledge.ingest import IngestReport
from pipelines.training.jobs import TrainingJobs
from tests.test_public_api import stub_runtime

PASSWORD = "s3cret"
REFUSAL = "needs the admin password"
# Public endpoints anyone may call: an endpoint not listed here must take admin_password.
OPEN_ENDPOINTS = frozenset({"ask_both", "vote", "health", "collections", "documents", "training_status", "adapters",
                            "pipeline_ratings", "generate_questions", "question_set", "rating_queues", "queue_next",
                            "queue_vote"})
# UI handlers known to check the password (tab.function): a handler that loses its password box fails the pin.
KNOWN_UI_GUARDS = frozenset({
    "knowledge.do_ingest", "knowledge.do_create", "knowledge.do_clear", "knowledge.do_delete",
    "knowledge.do_reingest", "knowledge.do_demo", "finetune.do_start", "finetune.do_cancel", "finetune.do_activate",
    "leaderboard.run_improve", "leaderboard.do_export", "evaluation.do_batch", "evaluation.do_rescore",
    "evaluation.do_save_types",
})
UPLOADS = Path(get_upload_folder())  # where Gradio keeps uploads (kept there while the tests move tempfile's)


def uploaded(document: Path) -> dict:
    """``document`` as gradio_client uploads it: a FileData payload in Gradio's upload folder (the API reads
    nothing else, so a path on the server cannot be ingested)."""
    folder = UPLOADS / "admin-guard-test"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / document.name
    copy.write_bytes(document.read_bytes())
    return {"path": str(copy), "meta": {"_type": "gradio.FileData"}}


SHIPPED_ADAPTER = Settings().adapter_path
SAMPLE_DOCUMENT = Settings().corpus_dir / "travel_policy.txt"
_FIRST = type_rows(load_questions(Settings().questions_file), {})[0]  # the shipped set's first question, retyped
EDITED_TYPES = pd.DataFrame([[_FIRST.id, _FIRST.question, next(t for t in EDITABLE_TYPES if t != _FIRST.type),
                              _FIRST.origin]], columns=TYPE_COLUMNS)
# Values that take a call past its own checks to its work: public parameters by name, UI inputs by elem_id.
API_ARGS: dict[str, Any] = {"collection": "", "files": [uploaded(SAMPLE_DOCUMENT)],
                            "document": SAMPLE_DOCUMENT.name, "adapter": SHIPPED_ADAPTER.name, "question_limit": 1}
UI_VALUES: dict[str, Any] = {"kb-upload": [str(SAMPLE_DOCUMENT)], "kb-document": SAMPLE_DOCUMENT.name,
                             "kb-new-name": "GuardDocs", "ft-choice": SHIPPED_ADAPTER.name,
                             "question-types": EDITED_TYPES}
# Calls on the stand-ins that only read; every other call counts as a change.
READS = frozenset({"collections", "documents", "originals_dir", "chunker", "store", "retriever", "current"})


@dataclass
class GuardedApp:
    """The whole app on a stub runtime with the admin password set, and what its actions can change."""

    demo: gr.Blocks
    runtime: SimpleNamespace
    knowledge: Mock
    jobs: Mock
    root: Path
    ui_values: dict[str, Any]  # UI_VALUES with this app's own rating-queue ids

    def handlers(self) -> dict[str, Any]:
        """Every guarded action by case id: ``api/NAME`` (public endpoint) or ``ui/TAB.FUNCTION`` (UI handler)."""
        found = {}
        for block in self.demo.fns.values():
            if block.api_name in PUBLIC_ENDPOINTS and "admin_password" in inspect.signature(block.fn).parameters:
                found[f"api/{block.api_name}"] = block
            elif any(getattr(c, "type", None) == "password" for c in block.inputs):
                tab = block.fn.__qualname__.split(".<locals>.")[0].removeprefix("build_").removesuffix("_tab")
                found[f"ui/{tab}.{block.fn.__name__}"] = block
        return found

    def effects(self) -> dict[str, Any]:
        """Everything a guarded action could change, as comparable values."""
        with sqlite3.connect(self.root / "feedback.sqlite3") as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            rows = {table: db.execute(f'SELECT * FROM "{table}"').fetchall() for table in tables}  # updates count too
        return {
            "knowledge writes": writes(self.knowledge), "training writes": writes(self.jobs),
            "adapter activations": list(self.runtime.activate_adapter.call_args_list),
            "DPO runs": list(self.runtime.improve_adapter_from_votes.call_args_list),
            "batch evaluations": list(self.runtime.batch_report.call_args_list),
            "re-scorings": list(self.runtime.rescore.call_args_list),
            "generation batches": len(self.runtime.backend.batches), "store rows": rows,
            "files": sorted((str(p.relative_to(self.root)), p.stat().st_mtime_ns, p.stat().st_size)
                            for p in self.root.rglob("*")  # a file written again counts too
                            if p.is_file() and not p.name.startswith("feedback.sqlite3")),
        }


def writes(stand_in: Mock) -> list:
    """The calls on a recording stand-in that may change something (every call but a known read)."""
    return [c for c in stand_in.mock_calls if c[0].split(".")[0].split("(")[0] not in READS]


def seed_rating_queue(feedback) -> dict[str, Any]:
    """A batch run's exchange and a queue of it, and the Rating queue tab's inputs naming them: its builder and its
    gold marking then have something to act on (their ids are new for each app: the app keeps its own values)."""
    from pipelines.common.events import PipelineResult
    from pipelines.feedback.queues import RatingQueues

    exchange_id = feedback.record_exchange("batch-guard", "Who founded Lumenhollow?",
                                           [PipelineResult("rag", "Mara Quell"), PipelineResult("finetuned", "Mara")])
    queue = RatingQueues(feedback).create("guard", [exchange_id], raters_per_item=1)
    return {**UI_VALUES, "rq-batch-run": "batch-guard", "rq-queue": queue.id, "rq-gold-item": exchange_id,
            "rq-gold-choice": "rag"}


def guarded_app(root: Path, auth: AdminAuth | None = None) -> GuardedApp:
    """Build the whole app on ``stub_runtime(root)`` with ``auth`` (default ``AdminAuth(PASSWORD)``) and recording
    stand-ins."""
    from app import build_demo

    runtime = stub_runtime(root)
    knowledge = create_autospec(KnowledgeBase, instance=True)
    knowledge.settings, knowledge.default_collection, knowledge.reranker_available = runtime.settings, "Docs", False
    knowledge.embedder = SimpleNamespace(max_tokens=256)
    knowledge.collections.return_value = ["Docs"]
    knowledge.documents.return_value = []
    knowledge.originals_dir.return_value = root / "documents" / "Docs"
    knowledge.ingest_paths.return_value = IngestReport({SAMPLE_DOCUMENT.name: 4})
    knowledge.ingest_files.return_value = IngestReport({"demo.md": 1})
    knowledge.reingest.return_value = IngestReport({SAMPLE_DOCUMENT.name: 5})
    knowledge.delete_document.return_value = 4
    knowledge.delete_document_if_present.return_value = 0
    knowledge.create_collection.return_value = "GuardDocs"
    jobs = create_autospec(TrainingJobs, instance=True)
    jobs.settings, jobs.adapters_dir = runtime.settings, root / "adapters"
    jobs.current.return_value = None
    jobs.start.return_value = SimpleNamespace(job_id="docs-test", status="running")
    jobs.cancel.return_value = True
    report = root / "report.zip"
    report.write_bytes(b"")
    ui_values = seed_rating_queue(runtime.feedback)
    runtime.__dict__.update(
        auth=auth or AdminAuth(PASSWORD), knowledge=knowledge, rag_problem="", training=jobs,
        adapter_folders=[root / "adapters", SHIPPED_ADAPTER.parent],
        activate_adapter=Mock(side_effect=lambda path: f"{path.name}@guard"),
        improve_adapter_from_votes=Mock(return_value="✅ improved"),
        batch_report=Mock(return_value=("# Batch evaluation\n1 question", report)),
        rescore=Mock(return_value=3),
    )
    return GuardedApp(build_demo(runtime), runtime, knowledge, jobs, root, ui_values)


def invoke(block: Any, given: str | None, ui_values: dict[str, Any]) -> Any:
    """Call a guarded action as its caller would, with ``given`` as the password (UI inputs from ``ui_values``)."""
    fn: Callable = block.fn
    if block.api_name in PUBLIC_ENDPOINTS:
        params = inspect.signature(fn).parameters
        missing = [n for n, p in params.items() if n not in API_ARGS and n != "admin_password" and p.default is p.empty]
        assert not missing, f"give API_ARGS a value for {missing}"
        return fn(admin_password=given, **{n: API_ARGS[n] for n in params if n in API_ARGS})
    values = {c: given if getattr(c, "type", None) == "password" else ui_values.get(c.elem_id, c.value)
              for c in block.inputs}
    result = fn(values) if block.inputs_as_dict else fn(*values.values())
    return list(result) if inspect.isgenerator(result) else result  # a streaming handler runs as it is consumed


def call(block: Any, given: str | None, ui_values: dict[str, Any]) -> tuple[Any, Exception | None]:
    """``invoke``'s (result, error raised)."""
    try:
        return invoke(block, given, ui_values), None
    except AssertionError:
        raise
    except Exception as exc:
        return None, exc


def case_ids() -> list[str]:
    """The guarded actions' case ids, from an app built at collection (the tests build their own)."""
    with tempfile.TemporaryDirectory() as folder:
        app = guarded_app(Path(folder))
        try:
            return sorted(app.handlers())
        finally:
            app.runtime.feedback.close()


CASES = case_ids()


@contextmanager
def built_app(root: Path, auth: AdminAuth | None = None):
    """A guarded app in ``root`` (``auth`` as in :func:`guarded_app`)."""
    (root / "tmp").mkdir()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("GRADIO_TEMP_DIR", str(UPLOADS))  # the upload folder stays where the upload lies
        built = guarded_app(root, auth)
        try:
            yield built
        finally:
            built.runtime.feedback.close()


def in_use(built: GuardedApp, monkeypatch: pytest.MonkeyPatch) -> GuardedApp:
    """``built``, with temporary files (exports) written under its root for this test, so they count as effects."""
    monkeypatch.setattr(tempfile, "tempdir", str(built.root / "tmp"))
    return built


# One app per module for each configuration (building the whole UI is ~0.3 s, and there are ~50 cases): each test
# compares what it can change before and after its own calls, so what earlier cases changed cannot hide its own.
@pytest.fixture(scope="module")
def password_app_built(tmp_path_factory: pytest.TempPathFactory):
    with built_app(tmp_path_factory.mktemp("guarded")) as built:
        yield built


@pytest.fixture
def app(password_app_built: GuardedApp, monkeypatch: pytest.MonkeyPatch) -> GuardedApp:
    """The whole app with the admin password set."""
    return in_use(password_app_built, monkeypatch)


@pytest.mark.parametrize("case", CASES)
def test_a_guarded_action_needs_the_admin_password(app: GuardedApp, case: str) -> None:
    block = app.handlers()[case]
    before = app.effects()
    for given in (None, "", "s3cre", "S3CRET", PASSWORD + " "):
        result, error = call(block, given, app.ui_values)
        if case.startswith("api/") or error is not None:
            assert isinstance(error, gr.Error) and REFUSAL in error.message, f"{case} ran with {given!r}: {result!r}"
        else:  # a UI handler may show the refusal in its output instead of a toast
            assert REFUSAL in str(result), f"{case} ran with {given!r}: {result!r}"
        assert app.effects() == before, f"{case} refused {given!r} but changed something"

    result, error = call(block, PASSWORD, app.ui_values)
    assert error is None or (isinstance(error, gr.Error) and "admin password" not in error.message), \
        f"{case} failed with the right password: {error!r}"
    assert REFUSAL not in str(result)
    assert app.effects() != before, f"{case} did nothing with the right password: {result!r}"


def test_every_public_endpoint_but_the_open_ones_takes_the_admin_password(app: GuardedApp) -> None:
    guarded = {case.removeprefix("api/") for case in app.handlers() if case.startswith("api/")}
    assert guarded == set(PUBLIC_ENDPOINTS) - OPEN_ENDPOINTS
    assert {case.removeprefix("ui/") for case in app.handlers() if case.startswith("ui/")} >= KNOWN_UI_GUARDS


PUBLIC_REFUSAL = "until an admin is configured"


def signed_in(user: str | None) -> gr.Request | None:
    """A request as Gradio hands it to a handler, with ``user`` signed in with Hugging Face (its OAuth session, as
    Gradio's login route stores it), or None: no request at all."""
    if user is None:
        return None
    from starlette.requests import Request

    userinfo = {"preferred_username": user, "name": user, "profile": f"https://huggingface.co/{user}", "picture": ""}
    session = {"oauth_info": {"userinfo": userinfo, "access_token": "hf_oauth", "expires_at": time.time() + 3600}}
    return gr.Request(request=Request({"type": "http", "method": "POST", "path": "/", "headers": [],
                                       "query_string": b"", "session": session}))


@contextmanager
def handling(request: gr.Request | None):
    """Run as inside Gradio's handling of ``request`` (it sets the request in this context variable)."""
    from gradio.context import LocalContext

    token = LocalContext.request.set(request)
    try:
        yield
    finally:
        LocalContext.request.reset(token)


@pytest.fixture(scope="module")
def public_app_built(tmp_path_factory: pytest.TempPathFactory):
    with built_app(tmp_path_factory.mktemp("public"), AdminAuth(None, public=True, owner="alice")) as built:
        yield built


@pytest.fixture
def public_app(public_app_built: GuardedApp, monkeypatch: pytest.MonkeyPatch) -> GuardedApp:
    """The whole app as on a public Space with no password: its owner is alice (SPACE_AUTHOR_NAME + OAuth)."""
    return in_use(public_app_built, monkeypatch)


@pytest.mark.parametrize("case", CASES)
def test_on_a_public_address_a_guarded_action_needs_an_admin(public_app: GuardedApp, case: str) -> None:
    """No password configured: refused (saying how to configure an admin) for anyone but the Space's owner."""
    block = public_app.handlers()[case]
    before = public_app.effects()
    for given, user in ((None, None), ("", None), ("guess", "mallory"), ("", "alice2")):
        with handling(signed_in(user)):
            result, error = call(block, given, public_app.ui_values)
        if case.startswith("api/") or error is not None:
            assert isinstance(error, gr.Error) and PUBLIC_REFUSAL in error.message, f"{case} ran for {user!r}"
            assert "ARENA_ADMIN_PASSWORD" in error.message and "owner (alice)" in error.message
        else:
            assert PUBLIC_REFUSAL in str(result), f"{case} ran for {user!r}: {result!r}"
        assert public_app.effects() == before, f"{case} refused {user!r} but changed something"

    with handling(signed_in("alice")):
        result, error = call(block, "", public_app.ui_values)
    assert error is None or (isinstance(error, gr.Error) and PUBLIC_REFUSAL not in error.message), \
        f"{case} failed for the Space's owner: {error!r}"
    assert PUBLIC_REFUSAL not in str(result)
    assert public_app.effects() != before, f"{case} did nothing for the Space's owner: {result!r}"


def test_the_export_leaves_out_user_names_unless_the_admin_asks(app: GuardedApp) -> None:
    from pipelines.common.events import PipelineResult

    feedback = app.runtime.feedback
    exchange_id = feedback.record_exchange("s1", "q", [PipelineResult("rag", "a"), PipelineResult("finetuned", "b")])
    feedback.add_vote(exchange_id, "rag", session_id="s1", user_name="alice")
    export = app.handlers()["api/export"].fn

    def raters(**flag) -> set:
        files = export(admin_password=PASSWORD, **flag)
        rows = [json.loads(line) for f in files if f["path"].endswith(".jsonl")
                for line in Path(f["path"]).read_text().splitlines()]
        assert rows, "nothing exported"
        return {row["rater"] for row in rows}

    assert raters() == {None}
    assert raters(include_user_names=True) == {"alice"}
