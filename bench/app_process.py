"""``python app.py`` started as a user starts it, on free ports with its own data dir, for the benches that talk to
a running app. Needs only what the README's first command installs (no pytest, no test helpers).

    app = AppProcess(Path("/tmp/bench-data"), ARENA_MAX_NEW_TOKENS="8").start()
    try:
        print(app.url)        # ask it through gradio_client
    finally:
        app.stop()
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.knowledge.weaviate_server import free_ports  # noqa: E402


class AppProcess:
    """One app process with its own data dir and ports (its Weaviate too); ``env`` adds ``ARENA_*`` settings."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        port, http_port, grpc_port = free_ports(3)
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "ARENA_DATA_DIR": str(data_dir), "ARENA_PORT": str(port),
                    "ARENA_WEAVIATE_HTTP_PORT": str(http_port), "ARENA_WEAVIATE_GRPC_PORT": str(grpc_port),
                    "PYTHONUNBUFFERED": "1", **env}
        self.log = data_dir / "app.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> AppProcess:
        """Start it and wait until ``/healthz`` answers; RuntimeError (with the log's end) if it does not."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return self
            except urllib.error.HTTPError as answer:
                if answer.code != 404:  # 503: up, with a part down
                    return self
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the app did not start in {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, as a user's Ctrl-C; SIGKILL after 30 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
