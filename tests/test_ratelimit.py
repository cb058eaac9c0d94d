import pytest

from pipelines.ratelimit import RateLimiter, RateLimitError


def test_limit_is_per_user_and_slides_with_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("alice")
    with pytest.raises(RateLimitError, match="at most 3 a minute"):
        limiter.check("alice")
    limiter.check("bob")  # another user is not affected
    now[0] = 59.9
    with pytest.raises(RateLimitError):
        limiter.check("alice")
    now[0] = 60.0
    limiter.check("alice")  # the first vote left the window


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0)
