"""The process-wide registry of live media sessions, as a media-server integration keeps it."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from clinic.media import SegmentIdentity


@dataclass(frozen=True, slots=True)
class CallRef:
    """What the media layer remembers about a call."""

    consultation_id: int
    appointment_id: int
    patient_id: int


@dataclass(frozen=True, slots=True)
class SegmentSnapshot:
    ref: CallRef
    identity: SegmentIdentity


class CallRegistry:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._call_locks: dict[int, threading.Lock] = {}
        self.current: CallRef | None = None
        self.last_switched: CallRef | None = None
        self.resume: dict[int, CallRef] = {}
        self.pending_switch: SegmentSnapshot | None = None

    def lock_for(self, consultation_id: int) -> threading.Lock:
        with self._guard:
            return self._call_locks.setdefault(consultation_id, threading.Lock())

    def reset(self) -> None:
        with self._guard:
            self._call_locks.clear()
            self.current = self.last_switched = self.pending_switch = None
            self.resume.clear()
