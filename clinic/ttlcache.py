"""A small thread-safe TTL cache for read-heavy pages.

`clear()` bumps a generation; a value computed while a clear happened is returned but not
stored, so a read racing a write can never pin stale data for the whole TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TTLCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._generation = 0
        self._items: dict[str, tuple[float, object]] = {}

    def remember(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            generation = self._generation
            item = self._items.get(key)
            if item is not None and item[0] >= time.monotonic():
                return item[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            if generation == self._generation:
                self._items[key] = (time.monotonic() + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._items.clear()
