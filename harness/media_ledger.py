"""What the harness's own callers sent, per call: which recordings must hold a readable code.

A recording with no readable code is clean only when nothing readable was sent during its
segment. Guessing that from the recording (its length, its silence) lets an app that drops a
caller's track, or records silence, pass as clean. So the expectation comes from the harness's
own record (issue 26: "where a code was expected but none is readable, lost coverage"):

- when each of its callers on a call was live (connected, until hung up), and the code it sent;
- when each flow that may close one of the call's segments (the media plan's switches, ends and
  leaves) started and finished;
- which call a fetched recording was made in (the app's listing says, `media.stored_call`).

A call's recordings must hold a readable audio code when, before every flow that may have
closed one of its segments, a caller was live for long enough for one whole frame of its code
to fit (`need_seconds`) since the flow before it finished. Which segment a recording is, the
harness cannot tell (the app's ids and clocks are its own), so one short or caller-less segment
on a call leaves all of that call's recordings without an expectation: never a guess.

Plain data with no I/O; times are the harness's monotonic clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["CallLedger", "Expected", "need_seconds"]

# Sound the app receives lags what a caller sent (jitter buffer, decoding) by a few frames.
_LAG_SECONDS = 0.1
_SYMBOL_SECONDS = 0.04  # harness.media_canary's FSK symbol (not imported: numpy-free here)


def need_seconds(code: str) -> float:
    """How long a looped audio code must be heard to hold one whole frame at any phase: two
    frames (a sync pair, then 2 symbols per byte of the text and its CRC-16), plus lag."""
    frame = (2 + 2 * (len(code.encode("ascii", "replace")) + 2)) * _SYMBOL_SECONDS
    return 2 * frame + _LAG_SECONDS


@dataclass(frozen=True, slots=True)
class Expected:
    """What a recording of a call must hold: the audio code of one of these callers' texts."""

    call: str  # the harness's key for the call (a resource key)
    codes: tuple[str, ...]


@dataclass(slots=True)
class _Live:
    who: str
    since: float
    until: float | None
    code: str


@dataclass(slots=True)
class _CallLog:
    live: list[_Live] = field(default_factory=list)
    closings: list[tuple[float, float]] = field(default_factory=list)  # (started, done)


class CallLedger:
    """The record of one world's real calls, filled by the scenarios that drive callers and
    read by the media oracle. Empty (no expectation anywhere) unless callers were driven."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _CallLog] = {}
        self._stored: dict[str, str] = {}  # entity key -> call

    def live(self, call: str, who: str, since: float, code: str) -> None:
        """`who`'s caller, carrying audio `code`, is connected to `call` from `since`."""
        with self._lock:
            self._log(call).live.append(_Live(who, since, None, code))

    def hung_up(self, call: str, who: str, at: float) -> None:
        """`who`'s caller on `call` stopped sending at `at`."""
        with self._lock:
            for live in self._log(call).live:
                if live.who == who and live.until is None:
                    live.until = at

    def closing(self, call: str, started: float, done: float) -> None:
        """A flow that may close one of the call's segments ran from `started` to `done`."""
        with self._lock:
            self._log(call).closings.append((started, done))

    def recorded(self, entity: str, call: str) -> None:
        """The app lists recording `entity` ("kind:id") as made in `call`."""
        with self._lock:
            self._stored[entity] = call

    def expected(self, entity: str) -> Expected | None:
        """What recording `entity` must hold, or None when the harness cannot say."""
        with self._lock:
            call = self._stored.get(entity)
            log = self._calls.get(call) if call is not None else None
            if call is None or log is None or not log.closings:
                return None
            opened = float("-inf")
            for started, done in sorted(log.closings):
                # One caller's unbroken stretch: two callers' halves hold no whole frame.
                if not any(span >= need for span, need in _heard(log.live, opened, started)):
                    return None
                opened = done
            return Expected(call, tuple(dict.fromkeys(live.code for live in log.live)))

    def _log(self, call: str) -> _CallLog:
        return self._calls.setdefault(call, _CallLog())


def _heard(live: list[_Live], opened: float, closed: float) -> list[tuple[float, float]]:
    """(seconds live within [opened, closed], seconds needed) of each caller live in it."""
    spans = []
    for one in live:
        start = max(one.since, opened)
        end = min(one.until if one.until is not None else closed, closed)
        if end > start:
            spans.append((end - start, need_seconds(one.code)))
    return spans
