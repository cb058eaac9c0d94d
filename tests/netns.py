"""Two network namespaces joined by a veth pair: an app in one, a client in the other, as a Space's proxy reaches
the app over the network and never through its loopback.

Needs root with CAP_SYS_ADMIN (``unshare -n``), which the test command has where it isolates the suite from the
network (scripts/test.sh). Nothing is changed in the caller's own namespace.

Example::

    with LinkedNamespaces() as link:
        app = link.app.popen(["python", "app.py"])            # listens on 0.0.0.0 inside the app namespace
        link.client.run(["python", "client.py", f"http://{link.app_address}:7860"])
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Any

APP_ADDRESS, CLIENT_ADDRESS = "10.231.0.1", "10.231.0.2"


def namespaces_available() -> str | None:
    """None when this process can make network namespaces, else why not."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"`unshare -n` refused: {probe.stderr.strip()}"


class Namespace:
    """A network namespace held open by a sleeping process; commands enter it with ``nsenter``."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        self.pid = self.holder.pid

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-n", *argv]

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), **{"check": True, "capture_output": True, "text": True, **kwargs})

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(self.command(argv), **kwargs)

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


class LinkedNamespaces:
    """An app namespace and a client namespace, each with loopback up, joined by a /30 veth link."""

    app_address, client_address = APP_ADDRESS, CLIENT_ADDRESS

    def __enter__(self) -> LinkedNamespaces:
        self.app, self.client = Namespace(), Namespace()
        try:
            self._wait_for_namespaces()
            self.app.run(["ip", "link", "set", "lo", "up"])
            self.client.run(["ip", "link", "set", "lo", "up"])
            self.app.run(["ip", "link", "add", "arena-app", "type", "veth", "peer", "name", "arena-client"])
            self.app.run(["ip", "link", "set", "arena-client", "netns", str(self.client.pid)])
            self.app.run(["ip", "addr", "add", f"{APP_ADDRESS}/30", "dev", "arena-app"])
            self.app.run(["ip", "link", "set", "arena-app", "up"])
            self.client.run(["ip", "addr", "add", f"{CLIENT_ADDRESS}/30", "dev", "arena-client"])
            self.client.run(["ip", "link", "set", "arena-client", "up"])
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_for_namespaces(self, attempts: int = 100) -> None:
        """``unshare`` makes the namespace before it runs ``sleep``: wait until both holders are inside theirs."""
        own = os.readlink("/proc/self/ns/net")
        for _ in range(attempts):
            try:
                if all(os.readlink(f"/proc/{ns.pid}/ns/net") != own for ns in (self.app, self.client)):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the namespace holders did not enter their namespaces")

    def __exit__(self, *exc: object) -> None:
        for namespace in (getattr(self, "app", None), getattr(self, "client", None)):
            if namespace is not None:
                namespace.close()  # the veth pair goes with its namespaces
