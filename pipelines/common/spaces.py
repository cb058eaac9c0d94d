"""Running as a Hugging Face Space: persistent storage, ZeroGPU, and fetching what ``setup.sh`` builds locally.

A Space only runs ``pip install -r requirements.txt`` and ``python app.py``; everything the setup script
prepares elsewhere is found or fetched here at start-up, and nothing here is needed off a Space.

Example::

    @zero_gpu(duration=120)
    def stream(...): ...
"""

from __future__ import annotations

import importlib.util
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

#: A Space's persistent storage, mounted when the Space has it (Settings > Persistent storage).
SPACES_PERSISTENT_DIR = Path("/data")
WEAVIATE_RELEASE_URL = ("https://github.com/weaviate/weaviate/releases/download/{version}/"
                        "weaviate-{version}-Linux-{arch}.tar.gz")
F = TypeVar("F", bound=Callable)


def in_space() -> bool:
    return os.environ.get("SYSTEM") == "spaces"


def persistent_data_dir(default: Path) -> Path:
    """``/data/arena`` in a Space with persistent storage (survives restarts), else ``default``."""
    if in_space() and SPACES_PERSISTENT_DIR.is_dir() and os.access(SPACES_PERSISTENT_DIR, os.W_OK):
        return SPACES_PERSISTENT_DIR / "arena"
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
