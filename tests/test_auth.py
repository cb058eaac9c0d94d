"""Who may run admin actions: open only on loopback with no password; on a public address (a Space, or a
non-loopback ARENA_HOST) refused until an admin exists (the password, or the Space owner signed in)."""

import pytest

from pipelines.common.auth import AdminAuth, AdminRequired
from pipelines.common.settings import Settings
from pipelines.runtime import Runtime


def test_no_password_on_loopback_means_open_and_a_password_must_match():
    AdminAuth(None).check(None)
    auth = AdminAuth("s3cret")
    assert auth.enabled
    auth.check("s3cret")
    for wrong in (None, "", "s3cre", "s3cret "):
        with pytest.raises(AdminRequired, match="ARENA_ADMIN_PASSWORD"):
            auth.check(wrong)


def test_a_public_address_with_no_admin_refuses_and_says_how_to_configure_one():
    auth = AdminAuth(None, public=True)
    for given in (None, "", "anything"):
        with pytest.raises(AdminRequired, match="until an admin is configured: set the ARENA_ADMIN_PASSWORD"):
            auth.check(given, user="someone")


def test_a_public_address_with_a_password_lets_the_password_in():
    auth = AdminAuth("s3cret", public=True)
    auth.check("s3cret")
    with pytest.raises(AdminRequired, match="needs the admin password"):
        auth.check("wrong")


def test_the_space_owner_signed_in_is_admin_and_another_user_is_not():
    auth = AdminAuth(None, public=True, owner="Alice")
    auth.check(None, user="alice")  # Hub user names are case-insensitive
    for user in ("bob", None, "", "alice2"):
        with pytest.raises(AdminRequired, match=r"sign in with Hugging Face as the Space's owner \(Alice\)"):
            auth.check("", user=user)
    with_password = AdminAuth("s3cret", public=True, owner="alice")
    with_password.check("", user="alice")
    with_password.check("s3cret", user="bob")
    with pytest.raises(AdminRequired, match="needs the admin password"):
        with_password.check("", user="bob")


def runtime_auth(monkeypatch, **env) -> AdminAuth:
    """The AdminAuth the app builds from these environment variables (only ``settings`` is read)."""
    for name in ("SYSTEM", "SPACE_AUTHOR_NAME", "OAUTH_CLIENT_ID", "GRADIO_SERVER_NAME", "ARENA_HOST",
                 "ARENA_ADMIN_PASSWORD", "ARENA_HF_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Runtime.auth.fget(type("R", (), {"settings": Settings()})())


def test_the_app_is_secure_by_default_where_others_can_reach_it(monkeypatch):
    assert runtime_auth(monkeypatch).open  # a laptop: loopback, no password
    assert not runtime_auth(monkeypatch, ARENA_HOST="0.0.0.0").open
    assert not runtime_auth(monkeypatch, ARENA_HOST="192.168.1.20").open
    assert runtime_auth(monkeypatch, ARENA_HOST="::1").open
    space = {"SYSTEM": "spaces", "GRADIO_SERVER_NAME": "0.0.0.0", "SPACE_AUTHOR_NAME": "alice"}
    auth = runtime_auth(monkeypatch, **space)
    assert not auth.open and auth.owner is None  # no OAuth in this Space: the owner cannot sign in
    with pytest.raises(AdminRequired, match="ARENA_ADMIN_PASSWORD secret"):
        auth.check("")
    auth = runtime_auth(monkeypatch, **space, OAUTH_CLIENT_ID="client")  # hf_oauth: true
    auth.check("", user="alice")
    with pytest.raises(AdminRequired):
        auth.check("", user="mallory")
    runtime_auth(monkeypatch, **space, ARENA_ADMIN_PASSWORD="pw").check("pw")
