"""Running as a Hugging Face Space: where to listen, who owns it, persistent storage, ZeroGPU, and fetching
what ``setup.sh`` builds locally.

A Space only runs ``pip install -r requirements.txt`` and ``python app.py`` with ``SYSTEM=spaces``,
``GRADIO_SERVER_NAME=0.0.0.0`` and ``SPACE_AUTHOR_NAME`` set; everything the setup script prepares elsewhere is
found or fetched here at start-up, and nothing here is needed off a Space.

Example::

    demo.launch(server_name=listen_host(settings.host))   # 0.0.0.0 in a Space, 127.0.0.1 elsewhere

    @zero_gpu(duration=120)
    def decode(backend_key: str, requests: list, max_new_tokens: int): ...   # module-level, picklable arguments
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os
import platform
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

#: Where a Space's volume is usually mounted (the older persistent-storage upgrade, or a volume a Space owner
#: mounts there); used only when it is writable and safe for SQLite (file locking, in-place writes).
SPACES_PERSISTENT_DIR = Path("/data")
LOOPBACK_HOST = "127.0.0.1"
WEAVIATE_RELEASE_URL = ("https://github.com/weaviate/weaviate/releases/download/{version}/"
                        "weaviate-{version}-Linux-{arch}.tar.gz")
F = TypeVar("F", bound=Callable)


def in_space() -> bool:
    return os.environ.get("SYSTEM") == "spaces"


def listen_host(configured: str | None) -> str:
    """The address the app listens on: ``ARENA_HOST`` when set, else where the platform says
    (``GRADIO_SERVER_NAME``; a Space sets ``0.0.0.0`` so its proxy reaches the app), else ``0.0.0.0`` in a
    Space and loopback everywhere else. Gradio's own default would be overridden by an explicit
    ``server_name``, so the app resolves it here and passes it on."""
    if configured:
        return configured
    platform_host = os.environ.get("GRADIO_SERVER_NAME", "").strip()
    if platform_host:
        return platform_host
    return "0.0.0.0" if in_space() else LOOPBACK_HOST


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost); a name or a wildcard address
    (``0.0.0.0``, ``::``) counts as public."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def space_owner() -> str | None:
    """The Space's owner (user or organisation name, ``SPACE_AUTHOR_NAME``) in a Space, else None."""
    if not in_space():
        return None
    return os.environ.get("SPACE_AUTHOR_NAME", "").strip() or None


def persistent_data_dir(default: Path) -> Path:
    """``/data/arena`` in a Space with a volume at ``/data`` that survives restarts and is safe for SQLite and
    Weaviate; else ``default`` (a bucket mounted there by hf-mount has no file locking: the app's state then
    stays on the Space's own disk, and the persistence report says it is lost at restart)."""
    if in_space() and SPACES_PERSISTENT_DIR.is_dir() and os.access(SPACES_PERSISTENT_DIR, os.W_OK):
        from pipelines.common.persistence import check_folder

        check = check_folder(SPACES_PERSISTENT_DIR)
        if check.safe:
            return SPACES_PERSISTENT_DIR / "arena"
        log.warning("Not keeping the app's data in %s: %s", SPACES_PERSISTENT_DIR, check.problem)
    return default


def on_zero_gpu() -> bool:
    """A ZeroGPU Space: a GPU exists only inside a ``spaces.GPU`` call (so never in a background thread)."""
    wanted = os.environ.get("SPACES_ZERO_GPU", "").lower() in {"1", "true"}
    return wanted and importlib.util.find_spec("spaces") is not None


def zero_gpu(duration: int = 60) -> Callable[[F], F]:
    """``spaces.GPU(duration=...)`` on ZeroGPU hardware (a GPU is attached only while the function runs);
    unchanged everywhere else, and ``spaces`` is imported only there."""
    if not on_zero_gpu():
        return lambda function: function
    import spaces

    return spaces.GPU(duration=duration)


def download_weaviate(binary: Path, version: str, url_template: str = WEAVIATE_RELEASE_URL,
                      timeout_s: float = 300) -> Path:
    """Fetch the release ``weaviate`` binary to ``binary`` (atomic: a cut download leaves nothing behind).

    ``url_template`` takes ``{version}`` and ``{arch}``; raises ``OSError`` with the URL when it fails.
    """
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    url = url_template.format(version=version, arch=arch)
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as tmp:
        archive = Path(tmp) / "weaviate.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
            with tarfile.open(archive) as tar:
                member = tar.getmember("weaviate")
                if not member.isfile():
                    raise OSError("the archive's 'weaviate' entry is not a file")
                tar.extract(member, tmp, filter="data")
        except (OSError, tarfile.TarError, KeyError) as exc:
            raise OSError(f"Could not download weaviate-server from {url}: {exc}") from exc
        extracted = Path(tmp) / "weaviate"
        extracted.chmod(0o755)
        extracted.replace(binary)
    log.info("Downloaded weaviate-server %s from %s", version, url)
    return binary
