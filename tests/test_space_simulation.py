"""A Space, simulated as faithfully as this machine allows: does it come up, can a visitor use it, and does a
vote survive a restart?

What a Space does, and how each is played here:
- it clones the repository (here: a copy of the files git tracks, a new one at every start: a Space's disk is
  wiped at restart) and installs ``requirements.txt`` alone into a fresh virtualenv (here: the one
  ``scripts/setup.sh --dev`` builds from ``requirements.txt`` alone, ``<cache>/space-venv``; no llama.cpp, no
  setup script, no offline-model package);
- it runs ``python app.py`` with its own variables (``SYSTEM=spaces``, ``SPACE_ID``, ``SPACE_AUTHOR_NAME``,
  ``GRADIO_SERVER_NAME=0.0.0.0``, the OAuth ones for ``hf_oauth: true``) and an empty home folder;
- its proxy reaches the app over the network (here: from another network namespace through a veth link; the
  app's loopback is not reachable from there);
- the model comes from the Hub (here: a pre-filled Hub cache, ``HF_HUB_OFFLINE=1``, in the Hub's own cache
  layout), and Weaviate's release binary from GitHub (here: the same tarball from a ``file://`` URL);
- votes outlive the Space's disk in an external PostgreSQL (``ARENA_DATABASE_URL``, a Space secret; here a real
  PostgreSQL server reached through its Unix socket, as the app namespace has no route to this one's loopback).

Not simulated: the Hub's build (Docker image, Python 3.12 from the card, here 3.11), its proxy's headers and
sticky sessions, a real OAuth sign-in, a GPU.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.common.settings import PROJECT_ROOT, Settings
from pipelines.generation.models import OFFLINE_MODEL_HUB_ID, materialize_offline_model
from tests.netns import LinkedNamespaces, Namespace, namespaces_available
from tests.test_spaces import weaviate_release

QUESTION = "Who founded Lumenhollow Instruments?"
PORT = 7860  # a Space's app_port
SPACE_VENV = Settings().cache_dir / "space-venv"


def space_checkout(target: Path) -> Path:
    """The files a Space clones: what git tracks, nothing built or generated here."""
    listed = subprocess.run(["git", "-C", str(PROJECT_ROOT), "ls-files", "-z"], check=True, capture_output=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def hub_cache(root: Path) -> Path:
    """A Hugging Face cache holding the default model in the Hub's layout (refs/main -> snapshots/<revision>),
    as a Space's first download leaves it; ``HF_HUB_OFFLINE=1`` makes transformers read it from there."""
    model = materialize_offline_model(Settings().cache_dir)
    repo = root / "hub" / ("models--" + OFFLINE_MODEL_HUB_ID.replace("/", "--"))
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in model.iterdir():
        (snapshot / file.name).symlink_to(file)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return root


def weaviate_release_url(root: Path) -> str:
    """Weaviate's release tarball laid out as GitHub serves it; the URL template the app fills in."""
    return f"file://{weaviate_release(root)}/download/{{version}}/weaviate-{{version}}-Linux-{{arch}}.tar.gz"


def through_socket(database: str) -> str:
    """The test database's URL through the server's Unix socket (the app namespace has its own loopback)."""
    port, name = database.rsplit(":", 1)[1].split("/", 1)
    sockets = glob.glob(f"/tmp/arena-postgres-*/.s.PGSQL.{port}")
    assert len(sockets) == 1, sockets
    return f"postgresql://arena@/{name}?host={Path(sockets[0]).parent}&port={port}"


def space_environment(home: Path, hf_home: Path, release_url: str, database: str) -> dict[str, str]:
    """What a Space sets (docs: "Spaces environment variables", "Adding a Sign-In with HF button"), the
    secrets and variables its owner set, and the stand-ins' locations; of the test run's, only its thread budget."""
    return {
        "PATH": f"{SPACE_VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "SYSTEM": "spaces", "SPACE_ID": "alice/rag-vs-finetune-arena", "SPACE_AUTHOR_NAME": "alice",
        "SPACE_REPO_NAME": "rag-vs-finetune-arena", "SPACE_TITLE": "RAG vs Fine-Tune Arena",
        "SPACE_HOST": "alice-rag-vs-finetune-arena.hf.space", "SPACE_CREATOR_USER_ID": "6400000000000000000000a1",
        "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(PORT),
        "OAUTH_CLIENT_ID": "00000000-0000-0000-0000-000000000000", "OAUTH_CLIENT_SECRET": "standin-secret",
        "OAUTH_SCOPES": "openid profile", "OPENID_PROVIDER_URL": "https://huggingface.co",
        "ARENA_DATABASE_URL": database, "ARENA_MAX_NEW_TOKENS": "8",
        # the stand-ins for what a Space fetches
        "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "ARENA_WEAVIATE_RELEASE_URL": release_url,
        "GRADIO_ANALYTICS_ENABLED": "False",
        # the test run's share of this machine (scripts/test.sh: one thread of math per test worker), as a Space
        # has its own: torch's threads on every core spin-wait on the other worker's
        **{name: os.environ[name] for name in ("OMP_NUM_THREADS",) if name in os.environ},
    }


class SpaceVisitor:
    """``tests/space_client.py`` run in a namespace (the client's, or the app's own for its loopback), with the
    test environment's Python."""

    def __init__(self, namespace: Namespace, url: str) -> None:
        self.namespace, self.url = namespace, url

    def __call__(self, *args: str, timeout_s: float = 300) -> dict:
        done = self.namespace.run([sys.executable, str(Path(__file__).with_name("space_client.py")), args[0],
                                   self.url, *args[1:]], timeout=timeout_s, cwd=PROJECT_ROOT)
        return json.loads(done.stdout.strip().splitlines()[-1])


def wait_until_up(process: subprocess.Popen, log: Path, inside: SpaceVisitor, visitor: SpaceVisitor,
                  timeout_s: float = 300) -> dict:
    """The app's health as a visitor from elsewhere sees it, once it is up on its own loopback; fails at once
    when the app exits, or when it is up but only its own machine can reach it."""
    deadline = time.monotonic() + timeout_s
    while (up := inside("wait", "5"))["ready"] is False:
        assert process.poll() is None, f"the Space's app exited ({process.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the Space's app did not come up: {up}\n{log.read_text()[-3000:]}"
    seen = visitor("wait", "20")
    assert seen["ready"], f"up on its own loopback, unreachable from another machine: {seen}\n{up}"
    return seen["health"]


def start_space(link: LinkedNamespaces, root: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    checkout = space_checkout(root / "repo")
    (root / "home").mkdir()
    log = root / "app.log"
    process = link.app.popen([str(SPACE_VENV / "bin" / "python"), "app.py"], cwd=checkout,
                             env={**env, "HOME": str(root / "home")}, stdout=log.open("w"),
                             stderr=subprocess.STDOUT)
    return process, log


def stop_space(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)  # a Space restart stops the container
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def test_a_space_comes_up_serves_a_visitor_elsewhere_and_keeps_the_vote_across_a_restart(tmp_path,
                                                                                        postgres_database):
    problem = namespaces_available()
    assert problem is None, f"the Space simulation needs network namespaces (run as scripts/test.sh does): {problem}"
    assert (SPACE_VENV / "bin" / "python").exists(), "no Space virtualenv: run `bash scripts/setup.sh --dev`"
    assert not (SPACE_VENV / "bin" / "llama_cpp").exists()
    env = space_environment(tmp_path / "home", hub_cache(tmp_path / "hf"), weaviate_release_url(tmp_path / "releases"),
                            through_socket(postgres_database))

    with LinkedNamespaces() as link:
        visit = SpaceVisitor(link.client, f"http://{link.app_address}:{PORT}")
        inside = SpaceVisitor(link.app, f"http://127.0.0.1:{PORT}")
        process, log = start_space(link, tmp_path / "first-start", env)
        try:
            health = wait_until_up(process, log, inside, visit)
            assert health["engine"] == "transformers"  # requirements.txt alone: no llama.cpp in a Space
            assert health["persistence"].startswith("votes: kept"), health["persistence"]
            voted = visit("ask-and-vote", QUESTION)
            assert voted["vote_id"] is not None, voted
        finally:
            stopped = stop_space(process)
        assert stopped == 0, log.read_text()[-3000:]
        assert "shutdown complete" in log.read_text()

        process, log = start_space(link, tmp_path / "second-start", env)  # the Space's disk is new
        try:
            wait_until_up(process, log, inside, visit)
            board = visit("leaderboard")
        finally:
            stop_space(process)
    votes = board["headers"].index("Votes") if "Votes" in board["headers"] else 4
    assert sum(row[votes] for row in board["rows"]) == 2, board  # the one vote, counted for both columns
    assert not (tmp_path / "first-start" / "repo" / "data" / "feedback.sqlite3").exists()

    from sqlalchemy import create_engine, text

    from pipelines.feedback.store import database_url

    engine = create_engine(database_url(postgres_database))
    with engine.connect() as conn:
        assert [row[0] for row in conn.execute(text("SELECT id FROM votes"))] == [voted["vote_id"]]
    engine.dispose()
