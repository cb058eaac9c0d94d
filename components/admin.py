"""The admin-password check as the UI needs it: a refusal becomes a Gradio error toast."""

from __future__ import annotations

import gradio as gr

from pipelines.common.auth import AdminAuth, AdminRequired


def require_admin(auth: AdminAuth, given: str | None) -> None:
    """Raise ``gr.Error`` with the refusal unless ``given`` is the admin password (or none is set)."""
    try:
        auth.check(given)
    except AdminRequired as exc:
        raise gr.Error(str(exc)) from exc
