"""Each clinician's caseload (the patient ids they currently look after), cached in process.

Every clinician list reads it and it changes only on an assignment, transfer or discharge, so it
is kept until one of those forgets it rather than expiring on a timer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class CaseloadCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._ids: dict[int, frozenset[int]] = {}

    def get(self, clinician_id: int, load: Callable[[], frozenset[int]]) -> frozenset[int]:
        with self._lock:
            generation = self._generation
            cached = self._ids.get(clinician_id)
        if cached is not None:
            return cached
        ids = load()
        with self._lock:
            # A forget() that raced the load wins: the value may predate its write.
            if generation == self._generation:
                self._ids[clinician_id] = ids
        return ids

    def forget(self, *clinician_ids: int) -> None:
        with self._lock:
            self._generation += 1
            for clinician_id in clinician_ids:
                self._ids.pop(clinician_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._ids.clear()
