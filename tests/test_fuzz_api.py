"""Property-based fuzzing of the public API functions (what ``/ask_both`` and ``/vote`` run), on the stub runtime
of test_public_api (scripted backend, scripted retriever behind the real collection-name check, SQLite store).

``gr.api`` hands its functions the raw JSON payload (the ``Api`` component does not convert it), so any JSON
value can arrive as any parameter: generated values include top_k 0, -1, 10^9, floats, NaN, None and strings;
odd collection names (paths, injection, non-ASCII, 300 characters); questions with NUL, right-to-left
overrides, only invisible characters, or 100,000 characters; unknown exchange ids and vote choices.

Each call returns a result or raises ``gr.Error`` with a message (what the API client sees); a refused call
leaves the store as it was, and an accepted one adds exactly one exchange or vote. Every endpoint is fuzzed on its
own (each gets the profile's whole example count), with the admin password given, so admin calls reach the code
past the password check; a refused call, and any call of a read-only endpoint, leaves every table's rows, the
data folder's files, the training job and the active adapter as they were.

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_api.py --hypothesis-show-statistics
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, table

from components.api import public_endpoints
from pipelines.arena.rag import RagPipeline
from pipelines.common.columns import VOTE_CHOICES
from pipelines.feedback.schema import exchanges, votes
from pipelines.knowledge.store import collection_name
from tests.fakes import ScriptedRetriever
from tests.test_public_api import EXPECTED as EXPECTED_ENDPOINTS
from tests.test_public_api import stub_runtime

JSON_ANY = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                   max_size=3), max_leaves=5)
QUESTIONS = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["Who founded Lumenhollow?", "   ", "\u200b\u200d", "\x00", "Who\x00 founded it?", "Who\ud800?",
                     "\u202eWho founded Lumenhollow?\u202c", "מי ייסד את לומנהולו?", "من أسس الشركة؟",
                     "Q" * 100_000, "'; DROP TABLE exchanges; --", "<script>alert(1)</script>"]),
    JSON_ANY,
)
COLLECTIONS = st.one_of(
    st.sampled_from(["", "LumenhollowDocs", "docs", "Docs_2", "../../etc/passwd", "/abs", "a b", "Ω", "x" * 300,
                     "Robert'); DROP TABLE--", "Docs\x00", "Docs\u202e", "C:\\docs", "%2e%2e"]),
    st.text(max_size=40),
    JSON_ANY,
)
TOP_K = st.one_of(st.sampled_from([0, -1, 10**9, 2.5, 3.0, None, 1, 50, 51, True, "3", "abc", float("nan"),
                                   float("inf"), -0.0, 10**400]),
                  st.integers(), st.floats(), JSON_ANY)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> SimpleNamespace:
    """The public endpoint functions over a stub runtime whose RAG column checks collection names as the
    knowledge base does (collection_name) before retrieving scripted passages."""
    runtime = stub_runtime(tmp_path_factory.mktemp("fuzz-api"))

    def retrievers(options):
        collection_name(options.collection or "LumenhollowDocs")  # ValueError for a name Weaviate refuses
        return ScriptedRetriever()

    runtime.arena.pipelines[0] = RagPipeline(retrievers)
    functions: dict[str, Callable] = {fn.__name__: fn for fn in public_endpoints(runtime, [])}
    return SimpleNamespace(runtime=runtime, **functions)


def counts(api: SimpleNamespace) -> tuple[int, int]:
    """(exchanges, votes) in the store."""
    store = api.runtime.feedback
    return (store._read(select(func.count().label("n")).select_from(exchanges))[0]["n"],
            store._read(select(func.count().label("n")).select_from(votes))[0]["n"])


def call(fn: Callable, *args) -> dict | None:
    """The endpoint's result, or None when it refused with gr.Error (a message the client is shown)."""
    try:
        return fn(*args)
    except gr.Error as exc:
        assert str(exc.message).strip(), "a refusal says why"
        return None


@given(question=QUESTIONS, collection=COLLECTIONS, top_k=TOP_K, third_column=st.one_of(st.booleans(), JSON_ANY))
@example(question="Who founded Lumenhollow?", collection="", top_k=3, third_column=False)
@example(question="Who founded Lumenhollow?", collection="", top_k=None, third_column=False)  # TypeError before
@example(question="Who founded Lumenhollow?", collection="", top_k=float("inf"), third_column=False)  # Overflow
@example(question="Who founded Lumenhollow?", collection="", top_k=[3], third_column=False)  # TypeError before
@example(question="Who founded Lumenhollow?", collection="", top_k=2.5, third_column=False)  # silently 2 before
@example(question=5, collection="", top_k=3, third_column=False)  # AttributeError before: 5 has no .strip()
@example(question="Who founded Lumenhollow?", collection=["Docs"], top_k=3, third_column=False)
@example(question="Who\x00 founded it?", collection="", top_k=3, third_column=True)  # kept NUL: PostgreSQL refuses
@example(question="Who\ud800?", collection="", top_k=3, third_column=False)  # UnicodeEncodeError in the store before
@example(question="Q" * 100_000, collection="", top_k=3, third_column=False)
def test_ask_both_answers_or_refuses_with_a_message(api: SimpleNamespace, question: object, collection: object,
                                                   top_k: object, third_column: object) -> None:
    """Any payload: an exchange with every column's answer or error, or gr.Error and nothing stored."""
    before = counts(api)
    result = call(api.ask_both, question, collection, top_k, third_column)
    if result is None:
        assert counts(api) == before, "a refused question stores nothing"
        return
    assert counts(api) == (before[0] + 1, before[1]), "an answered question is one stored exchange"
    assert isinstance(result["exchange_id"], str) and len(result["exchange_id"]) == 32
    assert set(result["answers"]) == ({"rag", "finetuned", "rag_finetuned"} if third_column else {"rag", "finetuned"})
    served = {pipeline.name for pipeline in api.runtime.arena.pipelines}  # the stub has no RAG + fine-tuned column
    for name, answer in result["answers"].items():
        assert isinstance(answer["answer"], str)
        assert answer["answer"] or answer["error"] or name not in served, "a column without an answer says why"
    stored = api.runtime.feedback.exchange(result["exchange_id"])
    kept = question.strip().replace("\x00", "").encode("utf-8", "replace").decode()  # as the store keeps text
    assert stored is not None and stored["question"] == kept
    if not (isinstance(collection, str) and (not collection or _valid_collection(collection))):
        assert result["answers"]["rag"]["error"], "RAG refuses a collection name Weaviate would refuse"


def _valid_collection(name: str) -> bool:
    try:
        collection_name(name)
    except ValueError:
        return False
    return True


@given(exchange_id=st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "0" * 32, "' OR 1=1 --"]), JSON_ANY),
       choice=st.one_of(st.sampled_from([*VOTE_CHOICES, "base", "RAG", "", "\x00"]), st.text(max_size=20), JSON_ANY),
       known=st.booleans())
@example(exchange_id=["a"], choice="rag", known=False)  # a list reached the SQL query: a driver error before
@example(exchange_id={"id": 1}, choice="tie", known=False)
@example(exchange_id="", choice=["rag"], known=True)  # an unhashable choice on a known exchange
@example(exchange_id="", choice="rag_finetuned", known=True)  # not shown on a two-column exchange
@example(exchange_id="", choice="base", known=True)  # the floor column is never voted on
def test_vote_records_or_refuses_with_a_message(api: SimpleNamespace, exchange_id: object, choice: object,
                                               known: bool) -> None:
    """Unknown ids and choices are refused with gr.Error and no vote stored; a valid vote is stored once."""
    if known:
        exchange_id = api.ask_both("Who founded Lumenhollow?", "", 3, False)["exchange_id"]
    before = counts(api)
    result = call(api.vote, exchange_id, choice)
    if result is None:
        assert counts(api) == before, "a refused vote stores nothing"
        return
    assert known and choice in ("rag", "finetuned", "tie", "both_bad")
    assert counts(api) == (before[0], before[1] + 1)
    assert result["exchange_id"] == exchange_id and result["choice"] == choice and result["vote_id"] >= 1


ADMIN_PASSWORD = "s3cret"


@pytest.fixture(scope="module")
def guarded_runtime(tmp_path_factory) -> SimpleNamespace:
    """A stub runtime with an admin password set."""
    from pipelines.common.auth import AdminAuth

    runtime = stub_runtime(tmp_path_factory.mktemp("fuzz-api-guarded"))
    runtime.auth = AdminAuth(ADMIN_PASSWORD)
    return runtime


@pytest.fixture(scope="module")
def guarded(guarded_runtime) -> dict[str, Callable]:
    """Every public endpoint over the stub runtime with an admin password set."""
    return {fn.__name__: fn for fn in public_endpoints(guarded_runtime, ["Who founded Lumenhollow?"])}


def stored_state(runtime: SimpleNamespace) -> dict:
    """What a call could change: every table's row count, the data folder's files (the database's own aside),
    the training job and the active adapter."""
    engine = runtime.feedback.engine
    with engine.connect() as conn:
        rows = {name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in inspect(conn).get_table_names()}
    root = runtime.settings.data_dir
    files = sorted((str(path.relative_to(root)), path.stat().st_size) for path in root.rglob("*")
                   if path.is_file() and not path.name.startswith("feedback.sqlite3"))
    job = runtime.training.current()
    return {"rows": rows, "files": files, "training": job and (job.job_id, job.status),
            "active": runtime.active_adapter()}


ENDPOINTS = sorted(name.lstrip("/") for name in EXPECTED_ENDPOINTS)
READ_ONLY = {"health", "collections", "documents", "training_status", "adapters", "pipeline_ratings", "export"}


@pytest.mark.parametrize("name", ENDPOINTS)
@settings(max_examples=max(30, settings().max_examples // 2))  # per endpoint: 30 in CI (about 4 each before)
@given(data=st.data())
def test_every_endpoint_answers_or_refuses_any_payload(guarded_runtime: SimpleNamespace,
                                                       guarded: dict[str, Callable], name: str,
                                                       data: st.DataObject) -> None:
    """Every public endpoint, every parameter any JSON value (the admin password right): a result or gr.Error,
    and a refusal (or a read) changes nothing stored."""
    import inspect as signature_of

    fn = guarded[name]
    arguments = [ADMIN_PASSWORD if p_name == "admin_password"
                 else data.draw(st.one_of(st.just(parameter.default), JSON_ANY), label=p_name)
                 if parameter.default is not signature_of.Parameter.empty
                 else data.draw(JSON_ANY, label=p_name)
                 for p_name, parameter in signature_of.signature(fn).parameters.items()]
    before = stored_state(guarded_runtime)
    result = call(fn, *arguments)
    assert result is None or isinstance(result, (dict, list, tuple))
    if result is None or name in READ_ONLY:
        assert stored_state(guarded_runtime) == before, f"/{name} {'refused' if result is None else 'read'} " \
            "but changed what is stored"


ADMIN_ENDPOINTS = sorted(name for name in ENDPOINTS if "admin_password" in EXPECTED_ENDPOINTS[f"/{name}"])


@pytest.mark.parametrize("name", ADMIN_ENDPOINTS)
def test_every_admin_endpoint_refuses_a_wrong_password_and_changes_nothing(guarded_runtime: SimpleNamespace,
                                                                           guarded: dict[str, Callable],
                                                                           name: str) -> None:
    before = stored_state(guarded_runtime)
    fn = guarded[name]
    import inspect as signature_of

    others = [None] * (len(signature_of.signature(fn).parameters) - 1)
    with pytest.raises(gr.Error):  # the password, or (ingest) the stub's missing knowledge base, refuses it
        fn("wrong", *others)
    assert stored_state(guarded_runtime) == before


@pytest.mark.parametrize(("name", "arguments"), [
    ("cancel_training", [True]),  # AdminAuth.check: 'bool' object has no attribute 'encode'
    ("export", [["s3cret"]]),
    ("pipeline_ratings", [False, False, "", None]),  # None.strip(): now no filter
    ("pipeline_ratings", [False, False, 5, ""]),
    ("activate_adapter", [ADMIN_PASSWORD, []]),  # unhashable type: 'list'
    ("evaluate", [ADMIN_PASSWORD, None]),  # int(None)
    ("evaluate", [ADMIN_PASSWORD, float("inf")]),
])
def test_payloads_that_crashed_an_endpoint_are_refused(guarded: dict[str, Callable], name: str,
                                                       arguments: list) -> None:
    """Regressions: each of these raised a raw TypeError, AttributeError or OverflowError, found by the test above;
    now a result (null as "no filter") or gr.Error."""
    result = call(guarded[name], *arguments)
    assert result is None or isinstance(result, (dict, list, tuple))


class FakeJobs:
    """Training jobs that record the config they were asked to start instead of training."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.started: list = []

    def start(self, config, name: str) -> SimpleNamespace:
        self.started.append(config)
        return SimpleNamespace(job_id=f"job-{len(self.started)}", status="running")

    def current(self) -> None:
        return None

    def cancel(self) -> bool:
        return False


@pytest.fixture(scope="module")
def train(tmp_path_factory) -> SimpleNamespace:
    """/train over fake jobs, with a documents folder per valid collection name (as the knowledge base has)."""
    from components.api_training import training_endpoints
    from pipelines.common.auth import AdminAuth
    from pipelines.common.settings import Settings

    root = tmp_path_factory.mktemp("fuzz-train")
    jobs = FakeJobs(Settings(data_dir=root))

    def documents_of(collection: str) -> Path:
        return root / "documents" / collection_name(collection or "LumenhollowDocs")  # ValueError for a bad name

    endpoints = training_endpoints(jobs, AdminAuth(None), [root / "adapters"], None, lambda: "none", documents_of)
    return SimpleNamespace(jobs=jobs, train=endpoints[0])


TRAIN_DEFAULTS = {"lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05, "learning_rate": 2e-3, "epochs": 1.0,
                  "max_steps": 10, "batch_size": 2, "grad_accumulation": 1, "max_length": 256}
NUMBERS = st.one_of(st.sampled_from([0, -1, 1, 2.5, 1e-3, float("nan"), float("inf"), None, "8", "abc", True, 10**9]),
                    st.integers(), st.floats(), JSON_ANY)


@given(collection=COLLECTIONS, recipe=st.one_of(st.sampled_from(["both", "closed-book", "reading", "", "x"]), JSON_ANY),
       use_question_set=st.one_of(st.booleans(), JSON_ANY), four_bit=st.one_of(st.booleans(), JSON_ANY),
       numbers=st.fixed_dictionaries({name: NUMBERS for name in (
           "lora_rank", "lora_alpha", "lora_dropout", "learning_rate", "epochs", "max_steps", "batch_size",
           "grad_accumulation", "max_length")}))
@example(collection="", recipe="both", use_question_set=False, four_bit=False,  # OverflowError: int(inf) in max_steps
         numbers={**TRAIN_DEFAULTS, "max_steps": float("inf")})
@example(collection="", recipe="both", use_question_set=False, four_bit=False,  # OverflowError: int(inf) in a field
         numbers={**TRAIN_DEFAULTS, "lora_rank": float("inf")})
@example(collection="", recipe="both", use_question_set=False, four_bit=False,  # started: rank 0
         numbers={**TRAIN_DEFAULTS, "lora_rank": 0})
@example(collection="", recipe="both", use_question_set=False, four_bit=False,  # started: a NaN learning rate
         numbers={**TRAIN_DEFAULTS, "learning_rate": float("nan")})
@example(collection=1, recipe="both", use_question_set=False, four_bit=False,  # TypeError: collection name check
         numbers=TRAIN_DEFAULTS)
def test_train_starts_a_sound_run_or_refuses(train: SimpleNamespace, collection: object, recipe: object,
                                             use_question_set: object, four_bit: object, numbers: dict) -> None:
    """Any payload: a run whose settings can train, or gr.Error naming the setting; nothing started on refusal."""
    started = len(train.jobs.started)
    result = call(train.train, "", collection, recipe, use_question_set, four_bit, *numbers.values())
    if result is None:
        assert len(train.jobs.started) == started
        return
    config = train.jobs.started[-1]
    assert config.rank >= 1 and config.alpha >= 1 and config.batch_size >= 1 and config.grad_accumulation >= 1
    assert 0 <= config.dropout < 1 and 0 < config.learning_rate < float("inf") and 0 < config.epochs < float("inf")
    assert isinstance(config.max_steps, int) and config.max_length >= 16  # max_steps <= 0: train by epochs


def test_train_takes_a_preset_under_the_values_given_and_refuses_an_unknown_one(train: SimpleNamespace) -> None:
    """/train's preset sets epochs, batch and learning rate unless the call gives them; an unknown preset is
    refused with the presets' names and starts nothing."""
    from pipelines.training.config import PRESETS

    train.train("", "", "both", False, preset="thorough")
    thorough = train.jobs.started[-1]
    assert (thorough.epochs, thorough.batch_size, thorough.learning_rate, thorough.dropout) == tuple(
        PRESETS["thorough"][name] for name in ("epochs", "batch_size", "learning_rate", "dropout"))
    train.train("", "", "both", False)
    default = train.jobs.started[-1]   # the default preset: quick, its dropout too
    assert (default.epochs, default.dropout) == (PRESETS["quick"]["epochs"], PRESETS["quick"]["dropout"])
    assert default.epochs != thorough.epochs and default.dropout != thorough.dropout
    train.train("", "", "both", False, epochs=1.5, preset="quick")
    assert train.jobs.started[-1].epochs == 1.5   # a value given wins over the preset's
    started = len(train.jobs.started)
    with pytest.raises(gr.Error, match="quick"):
        train.train("", "", "both", False, preset="fastest")
    assert len(train.jobs.started) == started
