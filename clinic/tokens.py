"""Who each login token belongs to, and the user rows behind them, remembered in memory.

A token never changes owner, so the token -> user id map is kept for the life of the process;
logout and the support reset forget it. User rows are remembered too, because reading one on
every request was a sixth of the clinic's CPU: a row changes only when the user first switches
to video (`first_switch_at`), which forgets it after the commit, and at the support reset.
Care relations and consent live in other tables and are always read from the database.

A row read while the same user is being forgotten must not be put back stale: each user has a
generation, taken before the read and compared when the row is stored.
"""

from __future__ import annotations

import threading

from clinic.models import User

_LIMIT = 200_000  # logins (or users) remembered before a map starts again from empty


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, int] = {}
        self._users: dict[int, User] = {}
        self._generations: dict[int, int] = {}
        self._epoch = 0  # bumped by the reset, which changes every row at once

    def user_id(self, token: str) -> int | None:
        return self._owners.get(token)

    def remember(self, token: str, user_id: int) -> None:
        with self._lock:
            if len(self._owners) >= _LIMIT:
                self._owners.clear()
            self._owners[token] = user_id

    def forget(self, token: str) -> None:
        with self._lock:
            self._owners.pop(token, None)

    def user(self, user_id: int) -> User | None:
        """The remembered row (detached, read-only by convention), or None."""
        return self._users.get(user_id)

    def generation(self, user_id: int) -> tuple[int, int]:
        return self._epoch, self._generations.get(user_id, 0)

    def keep_user(self, user: User, generation: tuple[int, int]) -> None:
        """Remember a row read from the database, unless it changed since `generation`."""
        with self._lock:
            if self.generation(user.id) != generation:
                return
            if len(self._users) >= _LIMIT:
                self._users.clear()
            self._users[user.id] = user

    def forget_user(self, user_id: int) -> None:
        """Call after the commit that changed the row."""
        with self._lock:
            self._users.pop(user_id, None)
            self._generations[user_id] = self._generations.get(user_id, 0) + 1

    def clear(self) -> None:
        with self._lock:
            self._owners.clear()
            self._users.clear()
            self._epoch += 1  # a read in flight across the reset stays unstored
