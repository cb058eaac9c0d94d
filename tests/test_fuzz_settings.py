"""Property-based fuzzing of the settings read from ``ARENA_*`` environment variables and ``.env``: any values give
settings the app can start with, or one :class:`SettingsError` that names each bad variable (and never echoes a
secret); ``python app.py`` reports it as one line and exits, not with pydantic's traceback.

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_settings.py --hypothesis-show-statistics
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.common.settings import Settings, SettingsError, load_settings
from pipelines.knowledge.uploads import MB, UploadLimits

FIELDS = sorted(Settings.model_fields)
SECRETS = ("generation_api_key", "llm_api_key", "admin_password", "weaviate_api_key")
ENV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
VALUES = st.one_of(st.sampled_from(["", "0", "-1", "1", "abc", "1e309", "inf", "-inf", "nan", "true", "yes", "off",
                                    "none", "null", "65536", "99999999999999999999", "4bit", "endpoint", "[]", "{}",
                                    " 7 ", "0x10", "1_000", "٣"]),
                   ENV_TEXT)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Exactly these ARENA_* variables (no others from the test's own environment), in a folder without .env."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("ARENA_")}
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, {**clean, **values}, clear=True), \
            contextlib.chdir(folder):
        yield


SECRET_VARIABLES = tuple(f"ARENA_{field.upper()}" for field in SECRETS)
# Secret values a test can find in a message: long enough not to turn up there by chance
SECRET_TEXT = st.one_of(st.sampled_from(["sk-live-4f9a2c", "hunter2-secret", "p@ss word;with=signs", "été-key"]),
                        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=6,
                                max_size=30))


def refusal(values: dict[str, str]) -> str | None:
    """The SettingsError message for these variables, or None when they load."""
    with environment(values):
        try:
            load_settings()
        except SettingsError as exc:
            return str(exc)
    return None


def check(values: dict[str, str]) -> Settings | None:
    """Load; on refusal, check the message names a variable and holds no secret value given; on success, that the
    values are ones the app starts with."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        message = str(exc)
        assert ("ARENA_" in message or ".env" in message) and "Traceback" not in message
        for field in SECRETS:
            assert f"ARENA_{field.upper()} (is" not in message, "a secret is never echoed"
        secrets = {name: value for name, value in values.items() if name in SECRET_VARIABLES and value.strip()}
        if secrets:
            # the same variables with other secrets: a value that is in both messages got there by chance
            unrelated = refusal({**values, **dict.fromkeys(secrets, "placeholder-not-secret")}) or ""
            shown = [name for name, value in secrets.items() if value in message and value not in unrelated]
            assert not shown, f"the message echoes the value of {shown}: {message}"
        return None
    for port in (settings.port, settings.weaviate_http_port, settings.weaviate_grpc_port):
        assert 1 <= port <= 65535
    UploadLimits(max_file_bytes=int(settings.max_upload_mb * MB),  # as KnowledgeBase.ingest_paths computes them
                 max_zip_total_bytes=int(settings.max_zip_total_mb * MB))
    assert 0 <= settings.chunk_overlap_tokens < settings.chunk_tokens
    assert 1 <= settings.top_k <= 50
    return settings


@given(values=st.dictionaries(st.sampled_from(FIELDS).map(lambda field: f"ARENA_{field.upper()}"), VALUES, max_size=6),
       secrets=st.dictionaries(st.sampled_from(SECRET_VARIABLES), SECRET_TEXT, max_size=4))
# a pydantic traceback naming top_k, not ARENA_TOP_K, before
@example(values={"ARENA_TOP_K": "abc"}, secrets={"ARENA_ADMIN_PASSWORD": "hunter2-secret"})
@example(values={"ARENA_PORT": "-5"}, secrets={})  # accepted before: Gradio failed later
# accepted before: int(inf * MB) raised OverflowError at ingestion
@example(values={"ARENA_MAX_UPLOAD_MB": "inf"}, secrets={})
# the model validator: no field to name
@example(values={"ARENA_JUDGE": "endpoint"}, secrets={"ARENA_LLM_API_KEY": "sk-live-4f9a2c"})
@example(values={"ARENA_CHUNK_TOKENS": "50", "ARENA_CHUNK_OVERLAP_TOKENS": "50"}, secrets={})
@example(values={"ARENA_ADMIN_PASSWORD": "", "ARENA_LLM_API_KEY": "sk-secret-value"}, secrets={})
@example(values={"ARENA_JUDGE_MAX_TOKENS": "1", "ARENA_ADMIN_PASSWORD": "secret-value"}, secrets={})
def test_environment_gives_usable_settings_or_names_the_bad_variable(values: dict[str, str],
                                                                   secrets: dict[str, str]) -> None:
    """Any ARENA_* values: settings the app can use, or a SettingsError naming each bad variable and echoing no
    secret's value."""
    values = {**values, **secrets}
    with environment(values):
        check(values)


@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))),
       raw=st.one_of(st.none(), st.binary(max_size=200)))
@example(text="ARENA_TOP_K=0\n", raw=None)
@example(text="", raw=b"ARENA_TOP_K=\xff\xfe\n")  # not UTF-8
def test_a_dotenv_file_gives_usable_settings_or_a_clear_error(text: str, raw: bytes | None) -> None:
    """A .env file with any content (broken lines, quotes, bytes that are not UTF-8)."""
    with environment({}):
        Path(".env").write_bytes(raw if raw is not None else text.encode())
        try:
            check({})
        except UnicodeDecodeError:
            pytest.fail("a .env file that is not UTF-8 raised UnicodeDecodeError")


@pytest.mark.parametrize(("variable", "value"), [("ARENA_TOP_K", "abc"), ("ARENA_PORT", "70000"),
                                                 ("ARENA_QUANTIZATION", "8bit")])
def test_app_start_names_the_bad_variable_and_exits(variable: str, value: str, capsys) -> None:
    """``python app.py`` with a bad variable: one line naming it, exit status 1, no traceback, nothing started."""
    import app

    with environment({variable: value}), pytest.raises(SystemExit) as exit_info:
        app.main()
    message = str(exit_info.value.code)
    assert message.startswith("Cannot start: ") and variable in message and value in message
