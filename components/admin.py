"""The admin check as the UI and the API need it: a refusal becomes a Gradio error toast, and the Hugging Face
user signed in on the request (if any) is passed on, so a Space's owner is admin without a password."""

from __future__ import annotations

import gradio as gr

from pipelines.common.auth import AdminAuth, AdminRequired


def require_admin(auth: AdminAuth, given: str | None) -> None:
    """Raise ``gr.Error`` with the refusal unless ``given`` is the admin password, the signed-in user owns the
    Space, or the app is open (loopback, no password)."""
    try:
        auth.check(given, user=signed_in_user() if auth.owner else None)
    except AdminRequired as exc:
        raise gr.Error(str(exc)) from exc


def signed_in_user() -> str | None:
    """The Hugging Face user name signed in on the request being handled (Gradio's OAuth session, read the way
    Gradio injects ``gr.OAuthProfile``), or None: no request, no sign-in, or an expired one."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    if request is None:
        return None
    try:  # Gradio's own readers (private: if they move, nobody counts as signed in, and the password still works)
        from gradio.helpers import _session_from_request
        from gradio.oauth import _get_valid_oauth_info_from_session

        info = _get_valid_oauth_info_from_session(_session_from_request(request))
    except Exception:  # no session middleware, or a session Gradio cannot read: nobody is signed in
        return None
    name = ((info or {}).get("userinfo") or {}).get("preferred_username")
    return name if isinstance(name, str) and name else None
