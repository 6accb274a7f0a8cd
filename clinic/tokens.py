"""Which user each login token belongs to, remembered in memory.

A token never changes owner, so the mapping can be kept for the life of the process; logout
and the support reset forget it. Only the owner's id is kept, never the user row, whose role
and care relations change while a run goes on.
"""

from __future__ import annotations

import threading

_LIMIT = 200_000  # logins remembered before the map starts again from empty


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, int] = {}

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

    def clear(self) -> None:
        with self._lock:
            self._owners.clear()
