"""Real calls (`media:`): how a call's signalling is reached and how its recordings are read.

With `chaperone run --media real` the switch suite's callers are aiortc peers whose camera and
microphone carry their canaries (harness.rtc_caller); this section says how the app's
signalling is spoken and which of a scenario's flows start a call, turn the camera on and off
and stop it. See docs/media.md.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator

from harness.media_call import HOLD_SECONDS
from harness.profile.base import _Strict


class AnswerSpec(_Strict):
    type: str = Field(description="the answer message's type value, e.g. media-answer")
    sdp: str = Field("sdp", description="the answer's field holding the SDP")


class SignallingSpec(_Strict):
    """Offer/answer over a WebSocket the user opens with their session's credentials."""

    websocket: str = Field(description="path of the signalling WebSocket, e.g. /ws/events")
    call: str = Field(
        description="the flow resource's variable naming the call (a captured id); "
        "{{call}} in the offer template"
    )
    offer: dict[str, Any] = Field(
        description="the offer message as a JSON template: {{sdp}} and {{call}} are filled in"
    )
    answer: AnswerSpec
    type_field: str = Field("type", description="the field every message's type is in")
    refused: str | None = Field(None, description="the type of a message refusing an offer")

    @field_validator("offer")
    @classmethod
    def _offer_placeholders(cls, value: dict[str, Any]) -> dict[str, Any]:
        found = set(re.findall(r"\{\{\s*([^}]*?)\s*\}\}", json.dumps(value)))
        unknown = sorted(found - {"sdp", "call"})
        if unknown:
            raise ValueError(
                f"unknown placeholder {{{{{unknown[0]}}}}} in the offer (use sdp, call)"
            )
        if "sdp" not in found:
            raise ValueError("the offer template has no {{sdp}}: where does the SDP go?")
        return value


class MediaFlowsSpec(_Strict):
    """Which flows do what to a caller's media (a flow named nowhere leaves it alone)."""

    start: list[str] = Field(default_factory=list, description="join: microphone on")
    camera_on: list[str] = Field(default_factory=list, description="camera added before it")
    camera_off: list[str] = Field(default_factory=list, description="camera off after it")
    stop: list[str] = Field(default_factory=list, description="hang up after it")


class MediaSpec(_Strict):
    signalling: SignallingSpec
    flows: MediaFlowsSpec
    hold_seconds: float = Field(
        HOLD_SECONDS,
        ge=0,
        description="each segment has held media this long before a flow that closes it "
        "(the flows and looks since it opened count), so each segment the app keeps holds "
        "enough to read a code from: a canary's audio code reads from any 0.74 s of it, and "
        "a camera's pictures are expected from 0.8 s of it",
    )
    fetch: str | None = Field(
        None, description="the name of the read that fetches a call's stored media"
    )
    stored_call: str | None = Field(
        None,
        description="JSON pointer into a listed item of stored media naming the call it was "
        "made in (the value of the flow resource's signalling.call variable), e.g. /call_id: "
        "stored media of a call whose caller the harness had live, with no readable code, is "
        "then lost coverage",
    )
