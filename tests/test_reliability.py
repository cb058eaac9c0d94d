"""Reliability of the vote path against the running app, over loopback, bounded in count and time."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from tests.conftest import SHARED_APP_PASSWORD, RunningApp, ask_in_the_ui, running
from tests.greedy import NOISE, llama_cpp_gaps, llama_cpp_reference, transformers_gaps

VOTE_ENDPOINTS = ("/vote_left", "/vote_right", "/vote_tie", "/vote_both_bad")


def _vote_id(notice: str) -> int:
    match = re.search(r"Vote #(\d+) stored", notice)
    assert match, f"vote not acknowledged: {notice!r}"
    return int(match.group(1))


@pytest.fixture(scope="module")
def fast_app(shared_app):
    return running(shared_app)


def test_20_concurrent_clients_with_10_votes_each_store_exactly_200(fast_app):
    def one_client(number: int) -> list[int]:
        client = Client(fast_app.url, verbose=False)
        ask_in_the_ui(client, f"Client {number}: what does quiet mode do?")
        return [_vote_id(client.predict(api_name=VOTE_ENDPOINTS[k % 4])[0]) for k in range(10)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        acknowledged = [vote_id for ids in pool.map(one_client, range(20)) for vote_id in ids]
    assert len(acknowledged) == 200 and len(set(acknowledged)) == 200
    with sqlite3.connect(fast_app.data_dir / "feedback.sqlite3") as db:  # this test's exchanges (the app is shared)
        mine = "SELECT id FROM exchanges WHERE question LIKE 'Client %: what does quiet mode do?'"
        stored = [row[0] for row in db.execute(f"SELECT id FROM votes WHERE exchange_id IN ({mine})")]
        per_exchange = db.execute(f"SELECT COUNT(*) FROM votes WHERE exchange_id IN ({mine}) "
                                  "GROUP BY exchange_id").fetchall()
    assert sorted(stored) == sorted(acknowledged)
    assert per_exchange == [(10,)] * 20


def test_questions_asked_at_once_decode_together_and_answer_as_each_asked_alone(fast_app, finetuned_reference):
    """The app batches questions across sessions (on by default): greedy answers must not depend on who else
    was asking at the time."""
    questions = ["Who founded Lumenhollow?", "How long is the warranty on a Tessel sensor?",
                 "What does quiet mode do?", "How much does a Tessel weigh?"]

    def answers(question: str) -> dict[str, str]:
        result = Client(fast_app.url, verbose=False).predict(question=question, api_name="/ask_both")
        assert all(not a["error"] for a in result["answers"].values()), result["answers"]
        words = " ".join([question, *(passage["text"] for passage in result["contexts"])])
        return {**{name: a["answer"] for name, a in result["answers"].items()}, "allowed": words}

    def shared_steps() -> int:
        """Decode steps so far that held rows of more than one question (the app's lifetime count)."""
        with urllib.request.urlopen(f"{fast_app.url}/healthz", timeout=10) as response:
            batching = json.load(response)["batching"]
        return int(re.search(r"(\d+) steps shared by several questions", batching).group(1))

    alone = [answers(question) for question in questions]
    before = shared_steps()  # the app is shared: count this test's steps, not what earlier tests pushed up
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        together = list(pool.map(answers, questions))
    assert all(a["rag"] and a["finetuned"] for a in alone)
    assert shared_steps() > before  # some decode step of this test held rows of more than one question
    # A batch of another shape rounds differently (llama.cpp's kernels per batch size; on AVX-512 the transformers
    # engine too), so a near-tied greedy token may flip, even the first ("Lumenhollow" vs "Ilse" seen here), and
    # the answers part ways from there. A row mixed up with another session's does more than that: it is not
    # greedy on its own prompt and adapter, or it breaks its copy rule, and it would part ways in every answer.
    parted = {name: [(q, b[name], s[name]) for q, b, s in zip(questions, together, alone, strict=True)
                     if b[name] != s[name]] for name in ("rag", "finetuned")}
    assert all(len(rows) * 2 <= len(questions) for rows in parted.values()), parted
    for question, batched, single in parted["finetuned"]:  # each greedy on the adapter, as tests/greedy.py checks
        for answer in (batched, single):
            assert max(finetuned_reference.gaps(question, answer)) < NOISE, (question, answer)
    for question, batched, _single in parted["rag"]:  # its copy rule: tokens of its question and passages only,
        allowed = next(a["allowed"] for q, a in zip(questions, together, strict=True) if q == question).lower()
        # so each word is a piece of that text (a list's "1." is a token of "14"; another session's words are not)
        assert all(word in allowed for word in re.findall(r"\w+", batched.lower())), (batched, allowed)


def test_the_greedy_check_tells_an_answer_on_its_adapter_from_another_questions(fast_app, finetuned_reference):
    """What the check above relies on, on the app's engine: the app's own fine-tuned answer lies within
    :data:`NOISE` of the best token everywhere; another question's answer far below it somewhere."""
    def finetuned(question: str) -> str:
        return Client(fast_app.url, verbose=False).predict(question=question, api_name="/ask_both")[
            "answers"]["finetuned"]["answer"]

    founder, weight = finetuned("Who founded Lumenhollow?"), finetuned("How much does a Tessel weigh?")
    assert founder != weight
    assert max(finetuned_reference.gaps("Who founded Lumenhollow?", founder)) < NOISE, founder
    assert max(finetuned_reference.gaps("Who founded Lumenhollow?", weight)) > 2 * NOISE, weight


class FinetunedReference:
    """The fine-tuned column's model, in this process: the app's engine with the shipped adapter, loaded on the
    first question asked of it (most runs of the test above need none), for :func:`tests.greedy` gaps."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.backend = None
        self.context = None  # llama.cpp: llama-cpp-python's own evaluation, every position's logits

    def gaps(self, question: str, answer: str) -> list[float]:
        """How far each token of the fine-tuned column's ``answer`` lies below the best token."""
        from pipelines.generation.models import FINETUNED_ADAPTER
        from pipelines.generation.prompts import plain_messages

        self._load()
        messages = plain_messages(question, [])
        if self.engine == "transformers":
            return transformers_gaps(self.backend, messages, answer, FINETUNED_ADAPTER)
        return llama_cpp_gaps(self.context, self.backend.tokenizer, self.backend.render_prompt(messages), answer)

    def _load(self) -> None:
        if self.backend is not None:
            return
        from pipelines.common.settings import Settings
        from pipelines.generation.llama_cpp_backend import LlamaCppBackend
        from pipelines.generation.models import FINETUNED_ADAPTER, ModelBackend

        settings = Settings(engine=self.engine)
        self.backend = (ModelBackend if self.engine == "transformers" else LlamaCppBackend).load(settings)
        self.backend.load_adapter(settings.adapter_path)
        if self.engine != "transformers":
            self.context = llama_cpp_reference(self.backend.llama.gguf_file,
                                               self.backend.adapter_files[FINETUNED_ADAPTER])

    def close(self) -> None:
        for part in (self.context, self.backend):
            getattr(part, "close", lambda: None)()


@pytest.fixture(scope="module")
def finetuned_reference(fast_app):
    engine = json.load(urllib.request.urlopen(f"{fast_app.url}/healthz", timeout=10))["engine"]
    reference = FinetunedReference(engine)
    yield reference
    reference.close()


def test_vote_before_any_question_is_refused_clearly(fast_app):
    notice = Client(fast_app.url, verbose=False).predict(api_name="/vote_left")[0]
    assert "Ask a question first" in notice


def test_admin_actions_refuse_without_the_password(fast_app):
    client = Client(fast_app.url, verbose=False)
    with pytest.raises(Exception, match="admin password"):
        client.predict("wrong", api_name="/export")
    with pytest.raises(Exception, match="admin password"):
        client.predict("", False, api_name="/improve_adapter")   # the password, "only items raters agreed on"
    files = client.predict(SHARED_APP_PASSWORD, api_name="/export")
    assert sorted(Path(f).name for f in files) == ["agreement.json", "dpo.jsonl", "queue_votes.jsonl", "ratings.jsonl"]


@pytest.mark.parametrize("question, expected", [
    ("x" * 100_000, "100,000 characters long; the limit is"),
    ("", "Type a question first"),
    ("\u200b\u200b  \n\t", "Type a question first"),
])
def test_refused_prompts_say_why_and_store_nothing(fast_app, question, expected):
    with sqlite3.connect(fast_app.data_dir / "feedback.sqlite3") as db:
        before = db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0]
    with pytest.raises(Exception, match=expected):
        Client(fast_app.url, verbose=False).predict(question=question, api_name="/ask_both")
    with sqlite3.connect(fast_app.data_dir / "feedback.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0] == before


def test_unusual_unicode_is_answered_and_stored_verbatim(fast_app):
    question = "Wer gründete Lumenhollow? 🔦 مرحبا e\u0301 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202etxet\u202c"
    result = Client(fast_app.url, verbose=False).predict(question=question, api_name="/ask_both")
    assert result["answers"]["finetuned"]["error"] is None
    with sqlite3.connect(fast_app.data_dir / "feedback.sqlite3") as db:
        (stored,) = db.execute("SELECT question FROM exchanges WHERE id = ?", (result["exchange_id"],)).fetchone()
    assert stored == question


@pytest.fixture(scope="module")
def lifecycle_app(shared_app):
    """The shared app, for the tests that kill, restart and stop it (an app start is the suite's most expensive
    set-up): they run last on it, after test_api.py and this module's other tests (its file order, one worker: see
    ``SHARED_APP_FILES``), and a test on the shared app after them would start it again (``running``). Each works
    on the app the test before it left running; the last one stops it."""
    return running(shared_app)


def test_sigkill_during_voting_loses_no_acknowledged_vote(lifecycle_app, tmp_path):
    app = lifecycle_app
    acknowledged: list[int] = []
    client = Client(app.url, verbose=False)
    note = tmp_path / "kestrel-memo.txt"
    note.write_text("The Kestrel loading dock opens at 06:40 and is run by Odalys Ferreira-Quist.")
    client.predict(SHARED_APP_PASSWORD, "LumenhollowDocs", [handle_file(str(note))], 160, 32, api_name="/ingest")
    ask_in_the_ui(client, "What is the Tidemates programme?")

    def vote_until_the_app_dies() -> None:
        for _ in range(500):
            try:
                notice = client.predict(api_name="/vote_left")[0]
            except Exception:  # the app was killed under us
                return
            acknowledged.append(_vote_id(notice))

    voter = threading.Thread(target=vote_until_the_app_dies, daemon=True)
    voter.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    app.process.kill()
    app.process.wait()
    voter.join(timeout=30)
    assert len(acknowledged) >= 25

    def stored() -> set[int]:
        with sqlite3.connect(app.data_dir / "feedback.sqlite3") as db:
            return {row[0] for row in db.execute("SELECT id FROM votes")}

    assert set(acknowledged) <= stored()
    app.start()  # same data dir and ports: the orphaned Weaviate is cleaned up, the data is all there
    assert set(acknowledged) <= stored()
    fresh = Client(app.url, verbose=False)
    ask_in_the_ui(fresh, "What is the Tidemates programme?")
    assert _vote_id(fresh.predict(api_name="/vote_tie")[0]) > max(acknowledged)
    # The document ingested before the kill is still there and retrieved.
    result = fresh.predict(question="Who runs the Kestrel loading dock?", api_name="/ask_both")
    assert "kestrel-memo.txt" in [c["source"] for c in result["contexts"]]


def test_weaviate_killed_is_503_then_restarted_and_sigterm_stops_the_app_and_the_new_server(lifecycle_app):
    """Weaviate dies mid-session: /healthz says 503, the fine-tuned column keeps answering, the supervisor
    restarts the server and RAG recovers; then SIGTERM shuts the app down cleanly, the restarted server too."""
    app = lifecycle_app
    if app.process.poll() is not None:  # the test before it failed after killing the app: start it again
        app.start()
    question = "Who founded Lumenhollow Instruments?"
    client = Client(app.url, verbose=False)
    before = client.predict(question=question, api_name="/ask_both")
    client.predict(exchange_id=before["exchange_id"], choice="rag", api_name="/vote")
    weaviate_pid = healthy_weaviate_pid(app)
    assert weaviate_pids(app.data_dir) == {weaviate_pid}, app.log.read_text()[-3000:]
    os.kill(weaviate_pid, signal.SIGKILL)
    running: set[int] = set()
    try:
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(f"{app.url}/healthz", timeout=10)
        assert failure.value.code == 503 and json.load(failure.value)["weaviate"] in {"down", "starting"}

        during = client.predict(question=question, api_name="/ask_both")  # one pipeline down never blanks the other
        assert during["answers"]["finetuned"]["error"] is None and during["answers"]["finetuned"]["answer"]

        deadline = time.monotonic() + 120
        while not _healthy(app.url):
            assert time.monotonic() < deadline, "Weaviate was not restarted"
            time.sleep(1)
        running = weaviate_pids(app.data_dir)
        assert running and weaviate_pid not in running
        after = client.predict(question=question, api_name="/ask_both")
        assert after["answers"]["rag"]["error"] is None
        # Same best passage (ties further down may order differently once the index is reloaded).
        assert after["contexts"][0]["text"] == before["contexts"][0]["text"]
        assert len(after["contexts"]) == len(before["contexts"])
        with sqlite3.connect(app.data_dir / "feedback.sqlite3") as db:
            votes = db.execute("SELECT choice FROM votes WHERE exchange_id = ?", (before["exchange_id"],)).fetchall()
        assert votes == [("rag",)]
        assert "restarting it" in app.log.read_text()
    finally:
        app.process.send_signal(signal.SIGTERM)
        assert app.process.wait(timeout=60) == 0
    assert "shutdown complete" in app.log.read_text()
    assert weaviate_pids(app.data_dir) == set()  # the restarted server is stopped too, not left behind
    assert not any(process_alive(pid) for pid in running | {weaviate_pid})


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_two_replicas_share_one_postgresql_store(tmp_path, postgres_database):
    """The scale-out setup: two app processes, one PostgreSQL database; each sees the other's votes."""
    from sqlalchemy import create_engine, text

    from pipelines.feedback.store import database_url

    replicas = [RunningApp(tmp_path / name, ARENA_MAX_NEW_TOKENS="4", ARENA_DATABASE_URL=postgres_database)
                for name in ("a", "b")]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(RunningApp.start, replicas))

        def ask_and_vote(url: str) -> list[int]:
            client = Client(url, verbose=False)
            ask_in_the_ui(client, "Where is the Lumenhollow office?")
            return [_vote_id(client.predict(api_name=VOTE_ENDPOINTS[k % 4])[0]) for k in range(5)]

        with ThreadPoolExecutor(max_workers=4) as pool:
            acknowledged = [i for ids in pool.map(ask_and_vote, [r.url for r in replicas] * 2) for i in ids]
        engine = create_engine(database_url(postgres_database))
        with engine.connect() as conn:
            stored = [row[0] for row in conn.execute(text("SELECT id FROM votes"))]
        engine.dispose()
        assert len(acknowledged) == 20 and sorted(stored) == sorted(acknowledged)
        board = Client(replicas[1].url, verbose=False).predict(False, False, "", "", api_name="/leaderboard")[0]
        assert sum(row[4] for row in board["data"]) == 2 * 4  # 4 exchanges, latest vote each, both columns
        assert not (tmp_path / "a" / "feedback.sqlite3").exists()
    finally:
        for replica in replicas:
            replica.stop()


def weaviate_pids(data_dir: Path) -> set[int]:
    """Live weaviate-server processes serving ``data_dir`` (their ``PERSISTENCE_DATA_PATH`` lies in it), from
    /proc: found whoever their parent is now, and a zombie (no environment left) does not count as alive."""
    inside = (f"PERSISTENCE_DATA_PATH={data_dir}".encode(), f"PERSISTENCE_DATA_PATH={data_dir}/".encode())
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours
            continue
        if any(var == inside[0] or var.startswith(inside[1]) for var in environ):
            pids.add(int(entry.name))
    return pids


def process_alive(pid: int) -> bool:
    """Running or sleeping: neither gone nor a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def healthy_weaviate_pid(app: RunningApp, timeout_s: float = 60) -> int:
    """The managed Weaviate's pid once the app reports it healthy and the pid file names a live process.

    Precondition, not the behaviour under test: on a loaded machine a server can exit while starting and be
    restarted by the supervisor, leaving the pid file briefly naming the dead one (seen once in CI)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{app.url}/healthz", timeout=10) as response:
                healthy = json.load(response).get("weaviate") == "ok"
        except urllib.error.HTTPError:
            healthy = False
        pid_file = app.data_dir / "weaviate.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else -1
        if healthy and process_alive(pid):
            return pid
        assert time.monotonic() < deadline, f"Weaviate not healthy:\n{app.log.read_text()[-3000:]}"
        time.sleep(0.5)
