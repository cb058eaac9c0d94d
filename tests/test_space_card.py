"""The README's front matter is the Space's configuration: a Python version every hardware accepts (ZeroGPU
lists 3.10 and 3.12; the code needs 3.11 or later), the Gradio the requirements pin, and only fields the Hub reads
(the Spaces configuration reference; ``suggested_storage`` went with the persistent-storage upgrade)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ZERO_GPU_PYTHONS = {"3.10", "3.12"}
HUB_FIELDS = {"title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "python_version", "app_file", "app_port",
              "base_path", "fullWidth", "header", "short_description", "models", "datasets", "tags", "thumbnail",
              "pinned", "hf_oauth", "hf_oauth_scopes", "hf_oauth_expiration_minutes", "hf_oauth_authorized_org",
              "disable_embedding", "startup_duration_timeout", "custom_headers", "preload_from_hub", "license",
              "suggested_hardware"}


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_the_space_card_names_a_python_every_hardware_and_the_code_accept():
    card = front_matter()
    version = str(card["python_version"])
    assert version in ZERO_GPU_PYTHONS, f"python_version {version}: ZeroGPU runs only {sorted(ZERO_GPU_PYTHONS)}"
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert needed.startswith(">=")
    assert tuple(map(int, version.split("."))) >= tuple(map(int, needed[2:].split("."))), needed


def test_the_space_card_holds_only_fields_the_hub_reads():
    card = front_matter()
    assert set(card) <= HUB_FIELDS, f"fields the Hub ignores: {set(card) - HUB_FIELDS}"
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert card["sdk"] == "gradio" and card["sdk_version"] == pins["gradio[oauth,mcp]"]
    assert card["app_file"] == "app.py" and card["hf_oauth"] is True
