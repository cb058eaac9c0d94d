"""Optional password for admin actions (export, adapter training; later ingestion).

Example::

    auth = AdminAuth("s3cret")
    auth.check(given_password)   # raises AdminRequired unless it matches
"""

from __future__ import annotations

import hmac


class AdminRequired(PermissionError):
    """The action needs the admin password; the message is safe to show."""


class AdminAuth:
    def __init__(self, password: str | None) -> None:
        self._password = password or None

    @property
    def enabled(self) -> bool:
        return self._password is not None

    def check(self, given: str | None) -> None:
        if not self.enabled:
            return
        if not isinstance(given, str) or not given or not hmac.compare_digest(given.encode(), self._password.encode()):
            raise AdminRequired("This action needs the admin password (set by ARENA_ADMIN_PASSWORD).")
