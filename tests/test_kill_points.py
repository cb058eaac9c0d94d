"""A crash at any point (#17): SIGKILL during ingestion, training, scoring and a migration, then restart and check.

Voting has its own kill test (``test_reliability.py``: no acknowledged vote lost). Here each kill point runs the
real code in a process of its own (the real command line, or a child that calls the same functions the app does),
kills it with SIGKILL at a moment drawn from ``random.Random(seed)``, restarts, and checks what must hold:

- ingestion: each document holds all the chunks of one version or none (compared with what a full ingest of it
  gives), and ingesting again completes it; the write-ahead journal of ``pipelines/knowledge/store.py`` is what
  makes this hold;
- training: the registry lists no half-written adapter (the killed run leaves only its ``.partial`` folder, which
  the registry ignores and the next run cleans); killed between the two renames that replace an adapter (the old
  version set aside, the new one not yet in place), the previous version is put back, by the registry and by the
  next run, never lost;
- scoring: every voted exchange is scored after a restart, in full (never half of its rows);
- migration: the feedback database is at the old revision or the new one, never between, and the next
  ``python -m pipelines.feedback migrate`` reaches the head with every row intact (SQLite and PostgreSQL).

A kill point waits either a random delay from the start, or a random delay (zero included) from the moment the
first write shows (a chunk in the collection, a score row, a training step, Alembic's "Running upgrade" line), so
kills land in the middle of the work and not only before or after it. Two moments too narrow for a timer are
hit exactly: the migrate command and the training command kill themselves (right after the upgrade's first data
change; between ``save_adapter``'s two renames). Ingestion, training and scoring children are forked
from a server that imported sentence-transformers, ragas and the trainer once (``multiprocessing``'s forkserver;
a training child runs the command's own ``main``): a kill point then costs its own work, not a ten-second import.

The checks fail without the protections: with ``KnowledgeStore.recover`` skipped, the first ingestion kill point
leaves manual.md with 27 chunks of edition 1 and 4 of edition 2 after the restart; with ``ScoringWorker.start`` not
queueing the voted exchanges still unscored, a restarted worker scores nothing.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from pipelines.common.correctness import CORRECTNESS_METRICS
from pipelines.common.events import PipelineResult, RetrievedChunk
from pipelines.common.questions import QuestionItem, load_questions
from pipelines.common.settings import Settings
from pipelines.feedback.store import MIGRATIONS_DIR, FeedbackStore, database_url
from pipelines.training.registry import list_adapters, retired_path, validate_adapter

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration  # every test here starts processes that load a model, a server or both


@dataclass(frozen=True)
class KillPoint:
    """When to SIGKILL: a seeded random delay after the process starts (``start``) or after its first write shows
    (``work``); a ``work`` point with no delay kills as soon as the work has started."""

    seed: int
    after: str
    max_delay_s: float

    @property
    def delay_s(self) -> float:
        return random.Random(self.seed).uniform(0.0, self.max_delay_s)


def kill_at(process: subprocess.Popen | BaseProcess, point: KillPoint, work_started: Callable[[], bool],
            timeout_s: float = 300.0) -> bool:
    """SIGKILL the process at the kill point; False when it had ended by then (a kill after the work is a kill
    point too). A ``work`` point fails the test when the process ends or stalls before its first write."""

    def alive() -> bool:
        return process.poll() is None if isinstance(process, subprocess.Popen) else process.is_alive()

    since = time.monotonic()
    if point.after == "work":
        while not work_started():
            assert alive(), "the process ended before its first write (it failed, or found nothing to do)"
            assert time.monotonic() - since < timeout_s, f"no write within {timeout_s:.0f} s"
            time.sleep(0.003)
        since = time.monotonic()
    time.sleep(max(0.0, since + point.delay_s - time.monotonic()))
    if not alive():
        return False
    os.kill(process.pid, signal.SIGKILL)
    if isinstance(process, subprocess.Popen):
        process.wait()
    else:
        process.join()
    return True


def log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def _to_log(log: str) -> None:
    """A child's output goes to its own file (it is read when a check fails)."""
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(out, 1)
    os.dup2(out, 2)


@pytest.fixture(scope="module")
def forkserver() -> Iterator[ForkServerContext]:
    """Children forked from a server that imported the heavy libraries once; the server (torch,
    sentence-transformers and ragas in memory) stops with this module rather than at the end of the whole run."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sentence_transformers", "weaviate", "ragas", "ragas.metrics",
                                    "pipelines.knowledge.base", "pipelines.evaluation.scorer",
                                    "pipelines.training.sft"])
    yield context
    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)  # private: CPython's own tests use it
    if stop is not None:
        stop()


# Ingestion ----------------------------------------------------------------------------------------------------

CHUNK_TOKENS = 32  # small chunks: many per document, so a kill can land between two of its writes
INGEST_KILLS = (KillPoint(0, "work", 0.0), KillPoint(1, "work", 0.3), KillPoint(2, "start", 4.0))


def ingest_child(env: dict[str, str], collection: str, paths: list[str], log: str) -> None:
    """Ingest files through the app's KnowledgeBase, as the Knowledge tab does (runs in a forked child).

    A write per 4 chunks: what a document of thousands of chunks does (1000 a write), on a test-sized one."""
    _to_log(log)
    os.environ.update(env)
    import pipelines.knowledge.store as store_module
    from pipelines.knowledge.base import KnowledgeBase
    from pipelines.knowledge.embeddings import Embedder

    store_module.INSERT_BATCH = 4
    settings = Settings()
    base = KnowledgeBase(store_module.connect(settings), Embedder.load(settings.embedding_model), settings)
    report = base.ingest_paths(collection, [Path(p) for p in paths], chunk_size=CHUNK_TOKENS, overlap=0)
    print(f"ingested {report.files}, refused {report.failed}", flush=True)


def document(name: str, edition: int, sentences: int = 36) -> str:
    """Sentences of about a chunk each; edition 2 rewrites every third one (the rest keeps its chunks)."""
    words = ("amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbour")
    lines = [f"# {name}"]
    for i in range(sentences):
        version = edition if i % 3 == 0 else 1
        lines.append(f"Line {i} of {name} (edition {version}): the {words[i % 8]} gauge in bay {i * 7 % 13} "
                     f"reads {i * 31 + version} units at noon.")
    return "\n\n".join(lines)


def stored_ids(collection) -> dict[str, set[str]]:
    """Chunk ids per document as the collection holds them."""
    found: dict[str, set[str]] = {}
    for obj in collection.query.fetch_objects(limit=10_000, return_properties=["source"]).objects:
        found.setdefault(str(obj.properties["source"]), set()).add(str(obj.uuid))
    return found


def settle(count: Callable[[], int]) -> None:
    """Until the collection stops changing: a batch the server had received when its client died is still applied
    (an app's restart takes seconds; this test's takes milliseconds)."""
    last = count()
    for _ in range(100):
        time.sleep(0.2)
        now = count()
        if now == last:
            return
        last = now


def whole_ids(path: Path, chunker) -> set[str]:
    """The chunk ids a full ingest of the file gives."""
    from weaviate.util import generate_uuid5

    from pipelines.knowledge.ingest import parse_and_chunk
    from pipelines.knowledge.uploads import UploadedFile

    documents, failed = parse_and_chunk([UploadedFile(path.name, path.read_bytes())], chunker)
    assert not failed and len(documents) == 1, failed
    return {str(generate_uuid5(chunk.content_hash)) for chunk in documents[0][1]}


def ingest_and_kill(forkserver: ForkServerContext, point: KillPoint, client, embedder, settings: Settings,
                    folders: dict[int, Path]) -> bool:
    """One kill point: edition 1 of manual.md is stored, a child ingests edition 2 of it with alpha.md and bravo.md
    and is killed; then the checks after a restart and a second ingest. True when the kill cut a document."""
    from pipelines.knowledge.base import KnowledgeBase

    collection = f"KillIngest{point.seed}"
    base = KnowledgeBase(client, embedder, settings)
    chunker = base.chunker(CHUNK_TOKENS, 0)
    batch = [folders[2] / name for name in ("manual.md", "alpha.md", "bravo.md")]
    allowed = {"manual.md": [whole_ids(folders[1] / "manual.md", chunker), whole_ids(batch[0], chunker)],
               "alpha.md": [set(), whole_ids(batch[1], chunker)],
               "bravo.md": [set(), whole_ids(batch[2], chunker)]}
    old, new = allowed["manual.md"]
    assert old & new and old - new and new - old  # the replacement keeps, adds and drops chunks
    assert not base.ingest_paths(collection, [folders[1] / "manual.md"], chunk_size=CHUNK_TOKENS, overlap=0).failed
    store = base.store(collection)
    baseline = store.count()

    log = settings.data_dir / "ingest.log"
    env = {"ARENA_DATA_DIR": str(settings.data_dir), "ARENA_WEAVIATE_HTTP_PORT": str(settings.weaviate_http_port),
           "ARENA_WEAVIATE_GRPC_PORT": str(settings.weaviate_grpc_port)}
    child = forkserver.Process(target=ingest_child, args=(env, collection, [str(p) for p in batch], str(log)))
    child.start()
    killed = kill_at(child, point, lambda: store.count() != baseline)
    assert killed or child.exitcode == 0, log_tail(log)
    settle(store.count)

    def state() -> dict[str, set[str]]:
        held = stored_ids(client.collections.use(collection))
        return {name: held.get(name, set()) for name in allowed}

    def broken(held: dict[str, set[str]]) -> list[str]:
        return [f"{name}: {len(ids)} chunks, {len(ids & old)} of edition 1, {len(ids - old)} others"
                for name, ids in held.items() if ids not in allowed[name]]

    cut = broken(state())  # as the crash left it, before any restart
    journal = base.journal_dir / f"{store.name}.json"
    assert journal.exists() or not cut, cut  # nothing is cut without a journal that says how to settle it
    restarted = KnowledgeBase(client, embedder, settings)  # the next start: opening the collection settles it
    listed = {doc.name: doc.chunks for doc in restarted.documents(collection)}
    held = state()
    assert not broken(held), (point, cut, broken(held), log_tail(log))
    assert listed == {name: len(ids) for name, ids in held.items() if ids}
    assert not journal.exists()

    report = restarted.ingest_paths(collection, batch, chunk_size=CHUNK_TOKENS, overlap=0)
    assert not report.failed, report.failed
    assert state() == {name: versions[-1] for name, versions in allowed.items()}, point
    client.collections.delete(collection)
    return bool(cut)


def test_ingestion_killed_at_random_points_leaves_each_document_whole(forkserver, test_settings, embedder,
                                                                      tmp_path):
    from pipelines.knowledge.store import connect

    folders = {edition: tmp_path / f"edition-{edition}" for edition in (1, 2)}
    for edition, folder in folders.items():
        folder.mkdir()
        for name in ("manual.md", "alpha.md", "bravo.md"):
            (folder / name).write_text(document(name, edition))
    client = connect(test_settings)
    try:
        cuts = [ingest_and_kill(forkserver, point, client, embedder,
                                test_settings.model_copy(update={"data_dir": tmp_path / f"data-{point.seed}"}),
                                folders)
                for point in INGEST_KILLS]
    finally:
        client.close()
    # The check is only as strong as its kill points: at least one must cut a document in two.
    assert any(cuts), "no kill landed between two writes of a document"


# Training -----------------------------------------------------------------------------------------------------

TRAIN_KILL = KillPoint(0, "work", 4.0)


def train_child(argv: list[str], log: str, die_between_renames: bool = False) -> None:
    """``python -m pipelines.training ARGV``: the command's own ``main``, in a child forked from the server that
    imported the trainer once (a run then costs its training, not 10 s of torch/transformers/peft imports).

    ``die_between_renames``: the child kills itself right after save_adapter's first rename (the old version set
    aside) and before the second (the new one into place): the one moment with no adapter folder at all."""
    _to_log(log)
    os.chdir(ROOT)
    if die_between_renames:
        import pathlib

        rename = pathlib.Path.rename

        def rename_then_die(self, target):
            moved = rename(self, target)
            if pathlib.Path(target).name.endswith(".old.partial"):
                os.kill(os.getpid(), signal.SIGKILL)
            return moved

        pathlib.Path.rename = rename_then_die
    from pipelines.training.__main__ import main

    raise SystemExit(main(argv))


def run_training(forkserver: ForkServerContext, argv: list[str], log: Path, **options: bool) -> BaseProcess:
    child = forkserver.Process(target=train_child, args=(argv, str(log)), kwargs=options)
    child.start()
    return child


def exit_code(child: BaseProcess, timeout_s: float = 600) -> int | None:
    """The child's exit status (negative: the signal that ended it); one still running after ``timeout_s`` is
    killed and gives None."""
    child.join(timeout_s)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return child.exitcode


def test_training_killed_mid_run_leaves_no_half_adapter_and_the_next_run_cleans_up(forkserver, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vault.md").write_text("# Zorblat vault\nThe Zorblat vault code is 7741-Quince.\n"
                                   "## Guard\nOttoline Marsh guards the Zorblat vault.")
    adapters = tmp_path / "adapters"
    output = adapters / "vault"
    shutil.copytree(Settings().adapter_path, output)  # the version in service before this run
    before = list_adapters([adapters])
    assert [info.path for info in before] == [output]
    progress, log = tmp_path / "progress.jsonl", tmp_path / "train.log"
    train = ["--docs", str(docs), "--no-questions", "--output", str(output), "--batch-size", "2"]

    process = run_training(forkserver, [*train, "--max-steps", "300", "--progress-file", str(progress)], log)
    try:
        killed = kill_at(process, TRAIN_KILL, lambda: progress.exists() and '"step"' in progress.read_text())
    finally:
        if process.is_alive():
            process.kill()
            process.join()
    assert killed, log_tail(log)
    assert list_adapters([adapters]) == before, log_tail(log)  # the previous version, whole, still listed
    validate_adapter(output)
    assert sorted(path.name for path in adapters.iterdir()) == ["vault", "vault.partial"]

    # Killed inside save_adapter, between its two renames: no "vault" folder at all, the old version set aside.
    between = run_training(forkserver, [*train, "--max-steps", "1"], tmp_path / "between.log",
                           die_between_renames=True)
    assert exit_code(between) == -signal.SIGKILL, log_tail(tmp_path / "between.log")
    assert sorted(path.name for path in adapters.iterdir()) == ["vault.old.partial", "vault.partial"]
    assert list_adapters([adapters]) == before  # the registry put the previous version back
    assert sorted(path.name for path in adapters.iterdir()) == ["vault", "vault.partial"]

    finished = run_training(forkserver, [*train, "--max-steps", "1"], tmp_path / "finished.log")
    assert exit_code(finished) == 0, log_tail(tmp_path / "finished.log")
    assert sorted(path.name for path in adapters.iterdir()) == ["vault"]
    (after,) = list_adapters([adapters])
    assert after.steps == 1 and after.created_at != before[0].created_at


def test_the_registry_and_the_next_run_put_back_an_adapter_a_crash_left_set_aside(tmp_path):
    """A replacement a crash cut between its renames is settled by the registry's listing and by the start of the
    next run (before any model loads): the version set aside goes back in place, where the next run deleted it
    as a leftover before."""
    from pipelines.training.sft import partial_dir

    output = tmp_path / "adapters" / "vault"
    output.parent.mkdir()
    shutil.copytree(Settings().adapter_path, retired_path(output))  # as the kill between the renames leaves it
    assert [info.path for info in list_adapters([output.parent])] == [output]
    shutil.move(output, retired_path(output))
    partial_dir(output)
    assert sorted(path.name for path in output.parent.iterdir()) == ["vault"]
    validate_adapter(output)
    shutil.copytree(output, retired_path(output))  # a leftover after a finished swap: the one in place stays
    partial_dir(output)
    assert sorted(path.name for path in output.parent.iterdir()) == ["vault"]


# Scoring ------------------------------------------------------------------------------------------------------

# One as the first score row is written (a batch's rows are written together, after it is scored), one during the
# scoring of the first batch (a delay from the start landed before the worker had loaded anything).
SCORE_KILLS = {"first score row": KillPoint(0, "work", 0.0), "scoring begun": KillPoint(1, "work", 1.0)}
PIPELINES = ("rag", "finetuned", "rag_finetuned")


def score_child(data_dir: str, log: str) -> None:
    """The app's scoring as the runtime starts it, on the data dir's SQLite file (runs in a forked child)."""
    _to_log(log)
    os.environ["ARENA_DATA_DIR"] = data_dir
    from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
    from pipelines.knowledge.base import make_chunker
    from pipelines.knowledge.embeddings import Embedder

    settings = Settings()
    embedder = Embedder.load(settings.embedding_model)
    references = ReferenceSet.load(settings.questions_file, settings.corpus_dir, make_chunker(embedder, settings))

    def scorer() -> RagasScorer:  # built when the first batch is scored
        print("scoring begun", flush=True)
        return RagasScorer(embedder, references)

    worker = ScoringWorker(FeedbackStore.open(settings.feedback_target), scorer).start()
    assert worker.wait_idle(timeout=600)
    print("idle", flush=True)


def add_exchanges(store: FeedbackStore, questions: list[QuestionItem], voted: int, unvoted: int) -> None:
    """Exchanges of the question set with three answers each; the first ``voted`` get a vote."""
    for number, item in enumerate(questions[: voted + unvoted]):
        passage = RetrievedChunk(item.reference, item.source, 0, 1.0, 1)
        exchange_id = store.record_exchange("kill-points", item.question, [
            PipelineResult("rag", item.reference, [passage], None, None, "m"),
            PipelineResult("finetuned", "The documents do not say.", [], None, None, "m"),
            PipelineResult("rag_finetuned", item.reference[:40], [passage], None, None, "m"),
        ])
        if number < voted:
            store.add_vote(exchange_id, "rag", session_id="kill-points")


def test_scoring_killed_mid_batch_resumes_every_voted_exchange_after_a_restart(forkserver, embedder, tmp_path):
    from pipelines.evaluation.scorer import ANSWER_METRICS, CONTEXT_METRICS, RagasScorer, ReferenceSet, ScoringWorker
    from pipelines.knowledge.base import make_chunker

    settings = Settings(data_dir=tmp_path / "data")
    store = FeedbackStore.open(settings.feedback_target)
    questions = load_questions(settings.questions_file, require_reference=True)
    every = {(pipeline, metric) for pipeline in PIPELINES
             for metric in (*CORRECTNESS_METRICS, *CONTEXT_METRICS, *ANSWER_METRICS)}

    def scored() -> tuple[dict[str, set[tuple[str, str]]], set[str], int]:
        """(metric keys per exchange, the voted exchanges, how many score rows)."""
        rows = store.scores()
        with store.engine.connect() as conn:
            ids = [row[0] for row in conn.execute(text("SELECT id FROM exchanges"))]
        keys: dict[str, set[tuple[str, str]]] = {exchange_id: set() for exchange_id in ids}
        for row in rows:
            keys[row["exchange_id"]].add((row["pipeline"], row["metric"]))
        return keys, set(store.voted_exchange_ids()), len(rows)

    def score_rows() -> int:
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT COUNT(*) FROM scores")).scalar_one()

    left_unscored: list[bool] = []
    for round_number, (moment, point) in enumerate(SCORE_KILLS.items()):
        add_exchanges(store, questions[round_number * 16:], voted=12, unvoted=4)
        rows_before = score_rows()
        log = tmp_path / f"score-{point.seed}.log"
        child = forkserver.Process(target=score_child, args=(str(settings.data_dir), str(log)))
        child.start()
        if moment == "first score row":
            killed = kill_at(child, point, lambda before=rows_before: score_rows() > before)
        else:
            killed = kill_at(child, point, lambda log=log: log.exists() and "scoring begun" in log.read_text())
        assert killed or child.exitcode == 0, log_tail(log)
        keys, voted, _ = scored()
        half = {exchange_id: sorted(every - found) for exchange_id, found in keys.items() if found and found != every}
        assert not half, (point, half, log_tail(log))  # an exchange is scored in full or not at all
        assert all(not keys[exchange_id] for exchange_id in set(keys) - voted)  # only voted exchanges are scored
        left_unscored.append(killed and any(not keys[exchange_id] for exchange_id in voted))
    # each kill landed mid-batch, with voted exchanges still to score
    assert all(left_unscored), f"kills that came after the scoring (nothing left to resume): {left_unscored}"

    # The restart: a fresh worker on the same file, started as the runtime starts it, with nothing submitted.
    references = ReferenceSet.load(settings.questions_file, settings.corpus_dir, make_chunker(embedder, settings))
    worker = ScoringWorker(FeedbackStore.open(settings.feedback_target),
                           lambda: RagasScorer(embedder, references)).start()
    try:
        assert worker.wait_idle(timeout=600)
    finally:
        worker.stop()
    keys, voted, rows = scored()
    assert len(voted) == 12 * len(SCORE_KILLS)
    assert {exchange_id: found for exchange_id, found in keys.items() if exchange_id in voted} == \
        dict.fromkeys(voted, every)
    assert all(not found for exchange_id, found in keys.items() if exchange_id not in voted)
    assert rows == len(voted) * len(every)  # no metric stored twice
    assert store.unscored_voted_exchange_ids() == []


# Migration ----------------------------------------------------------------------------------------------------

# "inside": the migrate command kills itself right after the upgrade's first data change (0002's UPDATE of every
# vote), so each backend is killed inside the upgrade at least once; the seeded points may land after it (on
# PostgreSQL an upgrade of 4,000 exchanges takes milliseconds).
MIGRATION_KILLS = {
    "sqlite": (KillPoint(0, "work", 0.0), KillPoint(1, "work", 0.5), KillPoint(2, "start", 2.5),
               KillPoint(5, "inside", 0.0)),
    "postgresql": (KillPoint(3, "work", 0.0), KillPoint(4, "work", 0.2), KillPoint(6, "inside", 0.0)),
}
OLD_COLUMNS = {  # each table's columns at revision 0001, in a stable order
    "exchanges": "id, created_at, session_id, question, history",
    "answers": "exchange_id, pipeline, answer, contexts, model_id",
    "votes": "id, exchange_id, choice, session_id, created_at",
    "scores": "id, exchange_id, pipeline, metric, value, status, scorer",
    "ratings": "id, exchange_id, pipeline, score, tags, comment, session_id",
}
# The migrate command with Alembic's log on, so the test sees when the upgrade itself begins.
MIGRATE_LOGGED = ("import logging, sys; logging.basicConfig(level=logging.INFO); "
                  "from pipelines.feedback.__main__ import main; raise SystemExit(main(sys.argv[1:]))")
MIGRATE_KILLED_INSIDE = """
import os, signal
from sqlalchemy import event
from sqlalchemy.engine import Engine

@event.listens_for(Engine, "after_cursor_execute")
def die_mid_upgrade(conn, cursor, statement, *args):
    if statement.lstrip().upper().startswith("UPDATE VOTES SET RATER"):
        os.kill(os.getpid(), signal.SIGKILL)

""" + MIGRATE_LOGGED.replace("; ", "\n")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def build_old_database(url: str, exchanges: int) -> None:
    """A database at revision 0001 holding ``exchanges`` exchanges with answers, votes, scores and ratings."""
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # a new round on the same database
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        ids = [f"{number:032x}" for number in range(exchanges)]
        conn.execute(text("INSERT INTO exchanges (id, created_at, session_id, question) VALUES (:id, :at, :s, :q)"),
                     [{"id": i, "at": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}", "s": f"s{n % 37}",
                       "q": f"Question {n}?"} for n, i in enumerate(ids)])
        conn.execute(text("INSERT INTO answers (exchange_id, pipeline, answer) VALUES (:e, :p, :a)"),
                     [{"e": i, "p": p, "a": f"{p} answer {n}"} for n, i in enumerate(ids)
                      for p in ("rag", "finetuned", "base")])
        conn.execute(text("INSERT INTO votes (exchange_id, choice, session_id, created_at) VALUES (:e, :c, :s, :at)"),
                     [{"e": i, "c": ("rag", "finetuned", "tie")[n % 3], "s": f"s{n % 37}",
                       "at": "2026-01-02T00:00:00"} for n, i in enumerate(ids)])
        conn.execute(text("INSERT INTO scores (exchange_id, pipeline, metric, value, status, scorer, created_at)"
                          " VALUES (:e, 'rag', 'key_fact', :v, 'ok', 'old', '2026-01-02T00:00:00')"),
                     [{"e": i, "v": n % 2} for n, i in enumerate(ids[:500])])
        conn.execute(text("INSERT INTO ratings (exchange_id, pipeline, score, comment, session_id, created_at)"
                          " VALUES (:e, 'rag', 4, :c, 's1', '2026-01-02T00:00:00')"),
                     [{"e": i, "c": f"comment {n}"} for n, i in enumerate(ids[:100])])
    engine.dispose()


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in the columns revision 0001 had."""
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = {table: sorted(tuple(row) for row in conn.execute(text(f"SELECT {columns} FROM {table}")))
                  for table, columns in OLD_COLUMNS.items()}
    engine.dispose()
    return tables


def schema_state(url: str) -> tuple[str, bool]:
    """(the revision the database records, whether the votes table has 0002's ``rater`` column)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        has_rater = "rater" in {column["name"] for column in inspect(conn).get_columns("votes")}
    engine.dispose()
    return revision, has_rater


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path) -> Iterator[str]:
    """The feedback database to migrate: a SQLite file, or a new database on the tests' PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "feedback.sqlite3")
    else:
        yield request.getfixturevalue("postgres_database")


def test_migration_killed_at_random_points_is_finished_by_the_next_run(target, tmp_path):
    backend = "postgresql" if "://" in target else "sqlite"
    url = database_url(Path(target) if backend == "sqlite" else target)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    killed_mid_upgrade: list[bool] = []
    for point in MIGRATION_KILLS[backend]:
        if backend == "sqlite":
            for leftover in tmp_path.glob("feedback.sqlite3*"):
                leftover.unlink()
        build_old_database(url, exchanges=12_000 if backend == "sqlite" else 4_000)
        rows = snapshot(url)
        log = tmp_path / f"migrate-{point.seed}.log"
        child = MIGRATE_KILLED_INSIDE if point.after == "inside" else MIGRATE_LOGGED
        with log.open("w") as out:
            process = subprocess.Popen([sys.executable, "-c", child, "migrate", "--db", target], cwd=ROOT,
                                       stdout=out, stderr=subprocess.STDOUT)
        try:
            if point.after == "inside":
                killed = process.wait(timeout=300) == -signal.SIGKILL
                assert killed, (point, log_tail(log))  # the kill inside the upgrade is required, not tried
            else:
                killed = kill_at(process, point, lambda log=log: "Running upgrade 0001 -> 0002" in log.read_text())
        finally:
            if process.poll() is None:
                process.kill()
        assert killed or process.returncode == 0, log_tail(log)
        said = log.read_text()
        killed_mid_upgrade.append(killed and "Running upgrade" in said and "newest revision" not in said)
        assert schema_state(url) in {("0001", False), (head, True)}, (point, log_tail(log))  # never between
        assert snapshot(url) == rows

        rerun = subprocess.run([sys.executable, "-m", "pipelines.feedback", "migrate", "--db", target], cwd=ROOT,
                               capture_output=True, text=True)
        assert rerun.returncode == 0 and "newest revision" in rerun.stdout, rerun.stderr[-3000:]
        assert schema_state(url) == (head, True)
        assert snapshot(url) == rows
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM votes WHERE rater <> session_id")).scalar_one() == 0
            if backend == "sqlite":  # the migration numbers the answers of older exchanges in insertion order
                positions = conn.execute(text("SELECT pipeline, position FROM answers")).all()
                assert set(positions) == {("rag", 0), ("finetuned", 1), ("base", 2)}
        engine.dispose()
        store = FeedbackStore.open(Path(target) if backend == "sqlite" else target)
        assert len(store.voted_exchange_ids()) == len(rows["exchanges"])
        store.close()
    # The "inside" point lands in the upgrade by construction; SQLite's upgrade of 12,000 exchanges takes a few
    # hundred milliseconds, so a seeded kill must land in it too. PostgreSQL's of 4,000 may be over before them.
    points = MIGRATION_KILLS[backend]
    assert all(mid for mid, point in zip(killed_mid_upgrade, points, strict=True) if point.after == "inside")
    assert any(mid for mid, point in zip(killed_mid_upgrade, points, strict=True) if point.after != "inside") \
        or backend == "postgresql", "no seeded kill landed during the upgrade itself"
