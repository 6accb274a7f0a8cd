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

Pictures are expected per filmed segment: one whose caller's camera was on when it opened and
for `VIDEO_SECONDS` before the flow that may close it. An app that tapes only the tracks a
call began with (its microphone) records a video consultation as sound alone; each recording
holds its audio code, so nothing else would say so. When the app lists exactly one recording
per segment of a call and every one of them was judged, at least as many of them must hold a
picture code as segments were filmed (a second video segment taped without its camera is
caught beside a first that has it). Otherwise (an app that files a call as one recording, or
recordings not all judged) the harness cannot count segments, and at least one judged
recording of a filmed call must hold a picture code.

Plain data with no I/O; times are the harness's monotonic clock.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

from harness.media_call import AUDIO_SYMBOL_SECONDS, audio_frame_symbols

__all__ = ["VIDEO_SECONDS", "CallLedger", "Expected", "MissingVideo", "need_seconds"]

# Camera time before a segment closes that must leave pictures in the call's recordings: 0.8 s
# is 12 frames, each a whole QR code, of which the oracle reads every fifth and every keyframe
# (the scenarios hold longer before each closing).
VIDEO_SECONDS = 0.8

# Sound the app receives lags what a caller sent (jitter buffer, decoding) by a few frames.
_LAG_SECONDS = 0.1


def need_seconds(code: str) -> float:
    """How long a looped audio code must be heard to be read at any phase: one frame (a sync
    pair, then 2 symbols per byte of the text and its CRC-16), as the decoder takes what a
    cut-off frame lacks from the end of the one before it, two symbols for the phase of the
    decoder's windows, plus lag."""
    frame = audio_frame_symbols(len(code.encode("ascii", "replace"))) * AUDIO_SYMBOL_SECONDS
    return frame + 2 * AUDIO_SYMBOL_SECONDS + _LAG_SECONDS


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


@dataclass(frozen=True, slots=True)
class MissingVideo:
    """A call whose camera was on, and whose judged recordings held no picture code: one of
    those reads (route, observer, owner), for the coverage row that says so."""

    call: str
    entities: tuple[str, ...]
    route: str
    observer: str
    owner: str
    filmed: int = 1  # segments the harness filmed, as far as it can count them
    pictured: int = 0  # judged recordings that held a picture code


@dataclass(slots=True)
class _CallLog:
    live: list[_Live] = field(default_factory=list)
    closings: list[tuple[float, float]] = field(default_factory=list)  # (started, done)
    cameras: list[_Live] = field(default_factory=list)  # camera on, per caller (code unused)


class CallLedger:
    """The record of one world's real calls, filled by the scenarios that drive callers and
    read by the media oracle. Empty (no expectation anywhere) unless callers were driven."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, _CallLog] = {}
        self._stored: dict[str, str] = {}  # entity key -> call
        # entity key -> (a picture code was read in it, one read of it)
        self._judged: dict[str, tuple[bool, tuple[str, str, str]]] = {}

    def live(self, call: str, who: str, since: float, code: str) -> None:
        """`who`'s caller, carrying audio `code`, is connected to `call` from `since`."""
        with self._lock:
            self._log(call).live.append(_Live(who, since, None, code))

    def hung_up(self, call: str, who: str, at: float) -> None:
        """`who`'s caller on `call` stopped sending at `at`."""
        with self._lock:
            _end(self._log(call).live, who, at)

    def camera(self, call: str, who: str, since: float) -> None:
        """`who`'s camera is on in `call` from `since`."""
        with self._lock:
            self._log(call).cameras.append(_Live(who, since, None, ""))

    def camera_off(self, call: str, who: str, at: float) -> None:
        """`who`'s camera in `call` stopped at `at` (switched back, or hung up)."""
        with self._lock:
            _end(self._log(call).cameras, who, at)

    def judged(self, entity: str, pictures: bool, read: tuple[str, str, str]) -> None:
        """Recording `entity` was decoded by `read` (route, observer, owner); `pictures`: a
        picture code was read in it."""
        with self._lock:
            seen = self._judged.get(entity)
            self._judged[entity] = (bool(pictures or (seen is not None and seen[0])), read)

    def missing_video(self) -> list[MissingVideo]:
        """Calls with filmed segments, some of whose recordings were judged, and fewer of
        those holding a picture code than the harness can tell were filmed."""
        with self._lock:
            by_call: dict[str, list[str]] = {}
            for entity in self._judged:
                call = self._stored.get(entity)
                if call is not None:
                    by_call.setdefault(call, []).append(entity)
            listed = Counter(self._stored.values())  # recordings the app lists per call
            missing = []
            for call, entities in sorted(by_call.items()):
                log = self._calls.get(call)
                filmed = _filmed(log) if log is not None else 0
                if log is None or not filmed:
                    continue
                if not (listed[call] == len(entities) == len(log.closings)):
                    filmed = 1  # segments not countable: one picture anywhere will do
                pictured = sum(1 for e in entities if self._judged[e][0])
                if pictured >= filmed:
                    continue
                route, observer, owner = self._judged[entities[0]][1]
                missing.append(
                    MissingVideo(
                        call, tuple(sorted(entities)), route, observer, owner, filmed, pictured
                    )
                )
            return missing

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


def _end(spans: list[_Live], who: str, at: float) -> None:
    """`who`'s open span (a caller live, a camera on) ends at `at`."""
    for span in spans:
        if span.who == who and span.until is None:
            span.until = at


def _filmed(log: _CallLog) -> int:
    """How many segments were filmed: a camera was already on when the segment opened (a
    flow that may close one finished) and stayed on for `VIDEO_SECONDS` before the next such
    flow began, so that segment, whichever recording it is, was a video one. A camera
    switched on during a segment (before the switch that opens the video one) counts only
    from the next; two cameras in one segment film it once."""
    closings = sorted(log.closings)
    filmed = 0
    for (_, opened), (started, _) in itertools.pairwise(closings):
        for camera in log.cameras:
            end = min(camera.until if camera.until is not None else started, started)
            if camera.since <= opened and end - opened >= VIDEO_SECONDS:
                filmed += 1
                break
    return filmed


def _heard(live: list[_Live], opened: float, closed: float) -> list[tuple[float, float]]:
    """(seconds live within [opened, closed], seconds needed) of each caller live in it."""
    spans = []
    for one in live:
        start = max(one.since, opened)
        end = min(one.until if one.until is not None else closed, closed)
        if end > start:
            spans.append((end - start, need_seconds(one.code)))
    return spans
