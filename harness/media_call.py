"""The protocol side of a real call, with no I/O: what a caller sends and when (issue 26).

A target profile's `media:` section says how a call's signalling is reached and shaped
(`harness.profile.model.MediaSpec`). This module turns it into plain values the aiortc driver
(`harness.rtc_caller`) sends and reads, and decides what a scenario's flows mean for a
caller's media:

- `start` flows (joining a call) open the caller's peer connection, microphone only;
- `camera_on` flows (switching to video) renegotiate to add the camera, before the flow, so
  the app sees the camera when its switch closes the audio segment;
- `camera_off` flows (switching back) set the camera inactive, after the flow;
- `stop` flows (ending, leaving) close it, after the flow.

Before any flow that closes a segment (`camera_on`, `camera_off`, `stop`), the media flows for
`hold_seconds`, so each recorded segment holds enough sound and pictures to read a code from.

The codes are the user's own canaries: the camera shows their display name (a canary inside)
as a QR code, the microphone carries their name canary as the audio code, so whatever the
run's seed planted is what the media carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.models import Actor, Canary

__all__ = [
    "AUDIO_CRC_BYTES",
    "AUDIO_SYMBOL_SECONDS",
    "AUDIO_SYNC_SYMBOLS",
    "HOLD_SECONDS",
    "MediaAction",
    "MediaCodes",
    "MediaPlan",
    "Signalling",
    "audio_frame_symbols",
    "codes_for",
]

# The audio code's FSK symbol (harness.media_canary): 20 ms, one Opus packet per symbol. Half
# of the 40 ms it was, it halves how long a segment must be heard (and so every hold of a real
# call) and still reads through two Opus generations at any phase (tests/unit/
# test_media_canary.py). Kept here, numpy-free, so the codec and the ledger's arithmetic
# (harness.media_ledger.need_seconds) read one value.
AUDIO_SYMBOL_SECONDS = 0.02
# An audio code's frame: this many sync symbols, then two symbols (nibbles) for each byte of
# the text and of its CRC. The encoder (harness.media_canary) lays frames out with these, and
# the ledger (harness.media_ledger.need_seconds) times them with `audio_frame_symbols`.
AUDIO_SYNC_SYMBOLS = 2
AUDIO_CRC_BYTES = 2


def audio_frame_symbols(text_bytes: int) -> int:
    """Symbols in one frame of an audio code whose text is `text_bytes` long."""
    return AUDIO_SYNC_SYMBOLS + 2 * (text_bytes + AUDIO_CRC_BYTES)


# How long each segment holds media before a flow that closes it, unless the profile says
# (`media.hold_seconds`): over a 12-character canary's 0.74 s of sound (need_seconds) and the
# 0.8 s of camera after which pictures are expected (harness.media_ledger.VIDEO_SECONDS).
HOLD_SECONDS = 1.0

SDP = "{{sdp}}"
CALL = "{{call}}"


@dataclass(frozen=True, slots=True)
class MediaCodes:
    """What one caller's camera shows and microphone says."""

    video: str
    audio: str


def codes_for(actor: Actor, canaries: tuple[Canary, ...]) -> MediaCodes | None:
    """The actor's display name on camera and their name canary as sound (None: no canary to
    carry, so the actor's media could prove nothing)."""
    mine = [c for c in canaries if c.owner == actor.id and not c.resource]
    named = [c for c in mine if c.kind == "name"] or mine
    if not named:
        return None
    token = named[0].value
    shown = actor.display_name if token.lower() in actor.display_name.lower() else token
    return MediaCodes(video=shown, audio=token)


@dataclass(frozen=True, slots=True)
class Signalling:
    """The messages of one app's signalling: an offer from a template, an answer found by its
    type. `offer` holds `{{sdp}}` and `{{call}}` wherever the app wants them."""

    offer: Mapping[str, Any]
    answer_type: str
    answer_sdp: str = "sdp"  # the answer's field holding its SDP
    type_field: str = "type"

    def render_offer(self, sdp: str, call: str) -> str:
        return json.dumps(_fill(self.offer, {SDP: sdp, CALL: call}))

    def parse_answer(self, text: str | bytes) -> str | None:
        """The SDP of an answer; None for anything else on the socket (call events)."""
        try:
            message = json.loads(text)
        except ValueError:
            return None
        if not isinstance(message, dict) or message.get(self.type_field) != self.answer_type:
            return None
        sdp = message.get(self.answer_sdp)
        return sdp if isinstance(sdp, str) else None

    def is_refusal(self, text: str | bytes, refused: str) -> bool:
        try:
            message = json.loads(text)
        except ValueError:
            return False
        return isinstance(message, dict) and message.get(self.type_field) == refused


def _fill(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        if template in values:
            return values[template]
        for key, value in values.items():
            template = template.replace(key, value)
        return template
    if isinstance(template, Mapping):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


@dataclass(frozen=True, slots=True)
class MediaAction:
    """What a flow does to the caller's media, before and after the flow runs."""

    before: str = ""  # "" | "camera_on"
    after: str = ""  # "" | "start" | "camera_off" | "stop"
    hold: bool = False  # let media flow first: the flow closes a segment


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """Which flows start a call, turn the camera on and off, and stop it; how long to hold."""

    start: tuple[str, ...] = ()
    camera_on: tuple[str, ...] = ()
    camera_off: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    hold_seconds: float = HOLD_SECONDS

    def left_to_hold(self, opened: float | None, now: float) -> float:
        """How much longer to hold before a flow closes a segment that opened at `opened`
        (None: not known, the whole hold): a segment already open that long (a look ran in
        it) holds enough sound and pictures without waiting again."""
        if opened is None:
            return self.hold_seconds
        return max(0.0, self.hold_seconds - (now - opened))

    def action(self, flow: str) -> MediaAction:
        if flow in self.start:
            return MediaAction(after="start")
        if flow in self.camera_on:
            return MediaAction(before="camera_on", hold=True)
        if flow in self.camera_off:
            return MediaAction(after="camera_off", hold=True)
        if flow in self.stop:
            return MediaAction(after="stop", hold=True)
        return MediaAction()
