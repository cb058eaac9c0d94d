"""A real PostgreSQL server from Debian's package, started in a temporary folder for the tests.

PostgreSQL refuses to run as root, so under root the server runs as the package's
``postgres`` user. Loopback only; trust authentication for the one test user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from pipelines.knowledge.weaviate_server import free_ports


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `bash scripts/setup.sh --dev` installs Debian's package")
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = _bin_dir()
        (self.port,) = free_ports(1)
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql://arena@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres")
        data = self.root / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "arena", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


def create_database(server_url: str, prefix: str = "t") -> str:
    """A new, empty database on the server at ``server_url`` (named ``prefix`` + a random suffix); its URL."""
    import uuid

    from sqlalchemy import create_engine, text

    from pipelines.feedback.store import database_url

    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
