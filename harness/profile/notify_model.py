"""Pushes and notifications: where a user receives data outside a response."""

from __future__ import annotations

from pydantic import Field

from harness.profile.base import _Strict
from harness.profile.step_model import HttpStep


class FeatureSpec(_Strict):
    """How to exercise the flagged feature, for `watch` probes: the flows each owner runs, the
    one the flag gates, and the statuses meaning "the flag is off for this user"."""

    flows: list[str] = Field(min_length=1)
    gated: str
    refused: list[int] = Field([403])


class PushSpec(_Strict):
    websocket: str | None = Field(
        None, description="path of a WebSocket that pushes events to a logged-in user"
    )


class RecipientSpec(_Strict):
    recipient: str = Field(description="the user variable holding the address (email, phone)")


class NotificationSpec(_Strict):
    """Where a target's notifications arrive: the harness runs an SMTP server and an SMS
    webhook sink (`--smtp-listen`, `--sms-listen`); staging must be configured to use them."""

    mail: RecipientSpec | None = None
    sms: RecipientSpec | None = None
    flush: HttpStep | None = Field(
        None, description="a call that returns once every queued notification was sent"
    )
