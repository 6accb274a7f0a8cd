"""The clinic's in-memory login map and user rows: never serve a row older than a commit."""

from __future__ import annotations

from clinic.models import User, utcnow
from clinic.tokens import TokenCache


def _user(uid: int, first_switch: bool = False) -> User:
    return User(
        id=uid,
        username=f"u{uid}",
        password_hash="x",
        role="patient",
        display_name=f"U {uid}",
        first_switch_at=utcnow() if first_switch else None,
    )


def test_a_row_read_before_it_was_forgotten_is_not_kept() -> None:
    cache = TokenCache()
    generation = cache.generation(1)  # a request starts reading user 1
    cache.forget_user(1)  # meanwhile the user's first switch commits
    cache.keep_user(_user(1), generation)  # the stale row arrives
    assert cache.user(1) is None


def test_a_row_read_after_the_commit_is_kept_until_forgotten() -> None:
    cache = TokenCache()
    cache.forget_user(1)
    cache.keep_user(_user(1, first_switch=True), cache.generation(1))
    kept = cache.user(1)
    assert kept is not None and kept.first_switch_at is not None
    cache.forget_user(1)
    assert cache.user(1) is None


def test_reset_forgets_tokens_and_rows_and_refuses_rows_read_across_it() -> None:
    cache = TokenCache()
    cache.remember("t", 1)
    cache.keep_user(_user(1), cache.generation(1))
    in_flight = cache.generation(1)
    cache.clear()
    assert cache.user_id("t") is None and cache.user(1) is None
    cache.keep_user(_user(1), in_flight)
    assert cache.user(1) is None
