"""What an oracle made of a body it already opened, kept by the digest of the bytes.

The same recording, document or page reaches every observer who may read it, in every look:
what a decoder made of those bytes is the same each time, so it is made once per run. Bounded
(least recently used goes first) and shared by the judges' threads."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["BodyMemo", "digest"]

V = TypeVar("V")


def digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


class BodyMemo(Generic[V]):
    """Values by key (a body's `digest`, with whatever else the value depends on)."""

    def __init__(self, limit: int) -> None:
        self._lock = threading.Lock()
        self._done: OrderedDict[Hashable, V] = OrderedDict()
        self._limit = limit

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            kept = self._done.get(key)
            if kept is not None:
                self._done.move_to_end(key)
            return kept

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._done[key] = value
            while len(self._done) > self._limit:
                self._done.popitem(last=False)
