"""Hugging Face sign-in on a Space: the signed-in user's name is stored with the exchange, vote and rating.

The app runs as a Space runs it (SPACE_ID and the OAuth variables the Hub sets), and the
browser's session cookie is signed the way Gradio's SessionMiddleware signs it, holding
what the Hub's OAuth callback stores. Nothing leaves loopback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import time
import urllib.request

import pytest
from gradio_client import Client
from itsdangerous import TimestampSigner

from tests.conftest import RunningApp, ask_in_the_ui

OAUTH_SECRET = "test-oauth-secret"


def _session_cookie(username: str) -> str:
    """What Gradio's OAuth callback leaves in the session after a Hugging Face sign-in."""
    session = {"oauth_info": {
        "access_token": "hf_oauth_token", "token_type": "bearer", "scope": "openid profile",
        "expires_at": int(time.time()) + 3600,
        "userinfo": {"sub": "1", "name": username.title(), "preferred_username": username,
                     "profile": f"https://huggingface.co/{username}", "picture": "", "website": ""},
    }}
    secret = hashlib.sha256((OAUTH_SECRET + "-v4").encode()).hexdigest()
    payload = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(secret).sign(payload).decode()


@pytest.fixture(scope="module")
def space_app(tmp_path_factory):
    app = RunningApp(
        tmp_path_factory.mktemp("space"), ARENA_MAX_NEW_TOKENS="4", SYSTEM="spaces", SPACE_ID="arena/test-space",
        OAUTH_CLIENT_ID="test-client", OAUTH_CLIENT_SECRET=OAUTH_SECRET, OAUTH_SCOPES="openid profile",
        OPENID_PROVIDER_URL="http://127.0.0.1:9",  # never contacted: no one presses the button here
    )
    yield app.start()
    app.stop()


def test_the_space_shows_sign_in_and_stores_the_user_name(space_app):
    with urllib.request.urlopen(f"{space_app.url}/config", timeout=10) as response:
        config = json.load(response)
    assert any(c.get("props", {}).get("elem_id") == "login" for c in config["components"])

    alice = Client(space_app.url, verbose=False, headers={"Cookie": f"session={_session_cookie('alice')}"})
    ask_in_the_ui(alice, "What does quiet mode do?")
    assert "stored" in alice.predict(api_name="/vote_left")[0]
    assert "stored" in alice.predict(3, [], "<i>ok</i>", api_name="/rate_left")
    anonymous = Client(space_app.url, verbose=False)
    ask_in_the_ui(anonymous, "What does quiet mode do?")
    assert "stored" in anonymous.predict(api_name="/vote_tie")[0]

    with sqlite3.connect(space_app.data_dir / "feedback.sqlite3") as db:
        votes = dict(db.execute("SELECT choice IN ('tie'), user_name FROM votes").fetchall())
        exchanges = sorted(db.execute("SELECT user_name FROM exchanges").fetchall(), key=str)
        ratings = db.execute("SELECT user_name, comment FROM ratings").fetchall()
    assert votes == {0: "alice", 1: None}
    assert exchanges == [("alice",), (None,)]
    assert ratings == [("alice", "<i>ok</i>")]
