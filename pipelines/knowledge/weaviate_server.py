"""A Weaviate server run as a managed child process on loopback.

Example::

    with WeaviateServer(binary, data_dir, http_port=8079, grpc_port=50061) as server:
        client = weaviate.connect_to_local(port=server.http_port, grpc_port=server.grpc_port, skip_init_checks=True)
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

log = logging.getLogger(__name__)

#: The server version the app runs (scripts/setup.sh builds the same): the newest tag on the Go module
#: proxy that weaviate-client 4.24 supports.
WEAVIATE_VERSION = "v1.39.0"


def _die_with_parent() -> None:
    """Linux: have the kernel SIGTERM the server when the app dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_stale_server(pid_file: Path, binary: Path) -> None:
    """Stop a server left running on this data dir by an app that was killed before it could stop it."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return
    if Path(cmdline).name != binary.name:
        return
    log.warning("Stopping a stale weaviate-server (pid %d) left on %s", pid, pid_file.parent)
    os.kill(pid, signal.SIGTERM)
    for _ in range(80):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.25)
    os.kill(pid, signal.SIGKILL)


class WeaviateStartError(RuntimeError):
    """The managed Weaviate server could not be started; the message says why."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, consecutive_pairs: bool = False) -> list[int]:
    """Ports that were free when chosen; with ``consecutive_pairs`` each pair is (p, p+1)."""
    ports: list[int] = []
    with ExitStack() as held:
        while len(ports) < count:
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if consecutive_pairs:
                if port + 1 > 65535 or not port_is_free(port + 1):
                    continue
                ports.extend([port, port + 1])
            else:
                ports.append(port)
    return ports[:count]


class WeaviateServer:
    """Starts ``weaviate-server`` with a persistent data dir and stops it on ``stop()``."""

    def __init__(self, binary: Path, data_dir: Path, *, http_port: int, grpc_port: int) -> None:
        if not binary.exists():
            raise WeaviateStartError(
                f"weaviate-server binary not found at {binary}. Run `bash scripts/setup.sh` "
                "(it builds it with `go install`), or set ARENA_WEAVIATE_URL to use a running server."
            )
        self.binary = binary
        self.data_dir = data_dir
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self.log_file = data_dir.parent / "weaviate.log"
        self.pid_file = data_dir.parent / "weaviate.pid"

    def _environment(self) -> dict[str, str]:
        gossip, data = free_ports(2, consecutive_pairs=True)
        raft, raft_rpc = free_ports(2, consecutive_pairs=True)
        (profiling,) = free_ports(1)
        hostname = "arena-node"  # stable: Raft state in the data dir is keyed by it
        env = dict(os.environ)
        env.update(
            {
                "PERSISTENCE_DATA_PATH": str(self.data_dir),
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
                "DEFAULT_VECTORIZER_MODULE": "none",
                "ENABLE_MODULES": "",
                "QUERY_DEFAULTS_LIMIT": "25",
                "DISABLE_TELEMETRY": "true",
                "GRPC_PORT": str(self.grpc_port),
                "CLUSTER_HOSTNAME": hostname,
                "CLUSTER_IN_LOCALHOST": "true",
                # Loopback only: memberlist otherwise looks for a private IP and refuses to start on a host that has
                # none (an air-gapped machine, a container with only lo).
                "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
                "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
                "CLUSTER_DATA_BIND_PORT": str(data),
                "RAFT_PORT": str(raft),
                "RAFT_INTERNAL_RPC_PORT": str(raft_rpc),
                "RAFT_JOIN": f"{hostname}:{raft}",
                "RAFT_BOOTSTRAP_EXPECT": "1",
                # Raft's timeouts unscaled (Weaviate multiplies them by 5 to ride out network delays between
                # nodes): one node on loopback has no peer to wait for, and the scaled heartbeat timeout made every
                # start and every restart after a crash wait 7-9 s for its election instead of 2.5-3.3 s.
                "RAFT_TIMEOUTS_MULTIPLIER": "1",
                "PROFILING_PORT": str(profiling),
                "LOG_LEVEL": "warning",
            }
        )
        return env

    def start(self, timeout_s: float = 90.0) -> WeaviateServer:
        """Launch the server and wait until it serves."""
        return self.launch().wait_until_ready(timeout_s)

    def launch(self) -> WeaviateServer:
        """Start the process without waiting: its Raft boot takes seconds of mostly idle time, which the caller
        can spend loading models before :meth:`wait_until_ready`. Call it from a thread that lives as long as the
        server: the server is asked to die with the thread that started it (``PR_SET_PDEATHSIG``)."""
        _stop_stale_server(self.pid_file, self.binary)
        for port in (self.http_port, self.grpc_port):
            if not port_is_free(port):
                raise WeaviateStartError(
                    f"Port {port} is already in use; set ARENA_WEAVIATE_HTTP_PORT / ARENA_WEAVIATE_GRPC_PORT "
                    "to free ports, or ARENA_WEAVIATE_URL to reuse the server already there."
                )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.http_port), "--scheme", "http"]
        log_handle = self.log_file.open("ab")
        self.process = subprocess.Popen(
            command, env=self._environment(), stdout=log_handle, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        log_handle.close()
        self.pid_file.write_text(str(self.process.pid))
        return self

    def wait_until_ready(self, timeout_s: float = 90.0) -> WeaviateServer:
        """Until the launched server serves; ``WeaviateStartError`` (and the process stopped) if it exits or
        does not become ready in time."""
        if self.process is None:
            raise WeaviateStartError("weaviate-server was not launched")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-1500:]
                raise WeaviateStartError(f"weaviate-server exited with code {self.process.returncode}:\n{tail}")
            if self.is_ready():
                log.info("Weaviate ready on http://127.0.0.1:%d (gRPC %d)", self.http_port, self.grpc_port)
                return self
            time.sleep(0.25)
        self._terminate()
        raise WeaviateStartError(f"weaviate-server did not become ready within {timeout_s:.0f} s")

    def is_ready(self) -> bool:
        """Ready *and* the schema readable: after a crash Weaviate says ready before its Raft node has
        elected itself leader, and until then every query fails with "could not find class"."""
        for path in ("/v1/.well-known/ready", "/v1/schema"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=2) as response:
                    if response.status != 200:
                        return False
            except OSError:
                return False
        return True

    def supervise(self, interval_s: float = 2.0) -> WeaviateServer:
        """Restart the server (same data dir and ports) whenever it dies, until ``stop()``: a crash of
        Weaviate costs RAG a few seconds, not the session. Its write-ahead log restores what was stored."""

        def watch() -> None:
            while not self._stopping.wait(interval_s):
                process = self.process
                if process is None or process.poll() is None:
                    continue
                log.warning("weaviate-server exited (code %s); restarting it", process.returncode)
                try:
                    self.start()
                except WeaviateStartError:
                    log.exception("restarting weaviate-server failed; trying again")

        threading.Thread(target=watch, name="weaviate-supervisor", daemon=True).start()
        return self

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop for good (the supervisor too)."""
        self._stopping.set()
        self._terminate(timeout_s)

    def _terminate(self, timeout_s: float = 20.0) -> None:
        """Stop gracefully (SIGTERM flushes Weaviate's write-ahead log), then kill if it hangs."""
        process, self.process = self.process, None
        self.pid_file.unlink(missing_ok=True)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, for tests that simulate a crash."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> WeaviateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
