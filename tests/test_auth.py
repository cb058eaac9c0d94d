import pytest

from pipelines.common.auth import AdminAuth, AdminRequired


def test_no_password_means_open_and_a_password_must_match():
    AdminAuth(None).check(None)
    auth = AdminAuth("s3cret")
    assert auth.enabled
    auth.check("s3cret")
    for wrong in (None, "", "s3cre", "s3cret "):
        with pytest.raises(AdminRequired, match="ARENA_ADMIN_PASSWORD"):
            auth.check(wrong)
