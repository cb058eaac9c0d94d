"""Who may run admin actions (uploads, deletions, training, batch runs, export): secure by default.

On a loopback address with no password the app is one person's tool and stays open. On a public address (a
Space, or ``ARENA_HOST=0.0.0.0``) admin actions are refused until an admin exists: ``ARENA_ADMIN_PASSWORD``, or
the Space's owner (``SPACE_AUTHOR_NAME``) signed in with Hugging Face. The refusal says how to configure one.

Example::

    auth = AdminAuth("s3cret", public=True, owner="alice")
    auth.check(given_password)                 # raises AdminRequired unless it matches ...
    auth.check("", user="alice")               # ... or the signed-in user owns the Space
"""

from __future__ import annotations

import hmac


class AdminRequired(PermissionError):
    """The action needs an admin; the message is safe to show and says how to become one."""


class AdminAuth:
    def __init__(self, password: str | None, *, public: bool = False, owner: str | None = None) -> None:
        """``public``: the app is reachable by others (a Space or a non-loopback address); ``owner``: the user
        name whose Hugging Face sign-in counts as admin (the Space's owner; None where there is no sign-in)."""
        self._password = password or None
        self.public = public
        self.owner = owner or None

    @property
    def enabled(self) -> bool:
        """A password is set (the UI shows its password boxes)."""
        return self._password is not None

    @property
    def open(self) -> bool:
        """Anyone may run admin actions: no password on a loopback address."""
        return not self.enabled and not self.public

    def check(self, given: str | None, user: str | None = None) -> None:
        """Pass when ``given`` is the password, ``user`` (the signed-in Hugging Face user name) is the owner, or
        the app is open; else raise :class:`AdminRequired` saying what would let the caller in."""
        if self.open:
            return
        if self.owner is not None and isinstance(user, str) and user.lower() == self.owner.lower():
            return
        if self.enabled and isinstance(given, str) and given and hmac.compare_digest(given.encode(),
                                                                                     self._password.encode()):
            return
        raise AdminRequired(self._refusal())

    def _refusal(self) -> str:
        owner = f", or sign in with Hugging Face as the Space's owner ({self.owner})" if self.owner else ""
        if self.enabled:
            return f"This action needs the admin password (set by ARENA_ADMIN_PASSWORD){owner}."
        return ("Admin actions are off on this public address until an admin is configured: set the "
                "ARENA_ADMIN_PASSWORD secret (in a Space: Settings → Variables and secrets), then restart"
                f"{owner}.")
