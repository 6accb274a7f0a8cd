"""Real calls during a scenario (`--media real`): each owner's caller follows their flows.

The target's `media:` section (harness.media_call.MediaPlan) says what each flow does to the
caller: a join starts it (microphone only), a switch to video adds the camera before the
switch, a switch back drops it after, an end hangs up. Before any flow that closes a recorded
segment, the segment has held media for `hold_seconds` (the flows and looks since it opened
count), so every recording holds a readable code.

What the callers sent goes in the world's call ledger (harness.media_ledger): when each was
live, and when each flow that may close a segment ran, whether or not a caller was on the call.
The media oracle expects a code in a call's recordings from that record alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from harness.adapters import Session
from harness.adapters.capabilities import CALLS, CallsCapable
from harness.coverage import MISSING_FILMED
from harness.media_call import MediaPlan
from harness.media_ledger import CallLedger
from harness.models import Observation
from harness.rtc_caller import Caller
from harness.suites import RunContext
from harness.world import Resource

__all__ = ["MediaCalls", "note_stored_call", "report_unfilmed"]


def note_stored_call(ctx: RunContext, obs: Observation) -> None:
    """Before a read is judged: which call the app lists stored media as made in says what
    that media must hold (the ledger's expectation)."""
    calls = ctx.capability(CALLS)
    call = calls.recorded_in(obs) if calls is not None and obs.entity else None
    if call is not None:
        ctx.world.calls.recorded(obs.entity, call)


def report_unfilmed(ctx: RunContext) -> None:
    """Calls the harness's callers filmed whose recordings, once the looks had judged them,
    held no picture at all: lost coverage that fails the run whatever the share (an app that
    tapes only a call's first tracks records a video consultation as its sound alone)."""
    for missing in ctx.world.calls.missing_video():
        held = f"{missing.pictured} of {missing.filmed} filmed segments pictured: "
        reason = f"{MISSING_FILMED} ({held}{', '.join(missing.entities)} of {missing.call})"
        ctx.adapter.coverage.lost(missing.route, missing.observer, missing.owner, reason)


@dataclass
class MediaCalls:
    """The live callers of one scenario, one per (user, call)."""

    calls: CallsCapable
    plan: MediaPlan
    ledger: CallLedger = field(default_factory=CallLedger)
    callers: dict[tuple[str, str], Caller] = field(default_factory=dict)
    # Calls whose camera is on: a caller that joins one again turns theirs on at once.
    video: set[tuple[str, str]] = field(default_factory=set)
    # When each (user, call)'s flow that may close a segment started, after any hold.
    closing: dict[tuple[str, str], float] = field(default_factory=dict)
    # When each (user, call)'s caller began sending into the segment open now: connected, or
    # the flow that closed the one before finished.
    opened: dict[tuple[str, str], float] = field(default_factory=dict)

    async def before(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        key = _key(session, resource)
        caller = self.callers.get(key) if key is not None else None
        if key is not None and caller is not None:
            if action.before == "camera_on":
                await caller.camera_on()
                self.video.add(key)
                self.ledger.camera(key[1], key[0], time.monotonic())
            if action.hold:
                await asyncio.sleep(self.plan.left_to_hold(self.opened.get(key), time.monotonic()))
        if key is not None and action.hold:
            # With or without a caller: a segment closed with nobody sending expects nothing.
            self.closing[key] = time.monotonic()

    async def after(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        key = _key(session, resource)
        if key is None:
            return
        started = self.closing.pop(key, None)
        if started is not None:
            done = time.monotonic()
            self.ledger.closing(key[1], started, done)
            self.opened[key] = done
        if action.after == "start" and key not in self.callers:
            await self._start(key, session, resource)
        caller = self.callers.get(key)
        if caller is None:
            return
        if action.after == "camera_off":
            # The camera stops sending as its track is taken off, before the renegotiation
            # that follows (seconds, with every owner switching at once): its end is now, or
            # the audio segment the switch opened would count as filmed.
            off = time.monotonic()
            await caller.camera_off()
            self.video.discard(key)
            self.ledger.camera_off(key[1], key[0], off)
        elif action.after == "stop":
            await self._hang_up(key)

    async def _start(
        self, key: tuple[str, str], session: Session, resource: Resource | None
    ) -> None:
        caller = self.calls.caller(session, resource)
        if caller is None:
            return
        self.callers[key] = caller
        await caller.start()
        since = await caller.connected()
        if since is not None:
            self.ledger.live(key[1], key[0], since, caller.codes.audio)
            self.opened[key] = since
        if key in self.video:
            await caller.camera_on()
            self.ledger.camera(key[1], key[0], time.monotonic())

    async def _hang_up(self, key: tuple[str, str]) -> None:
        self.opened.pop(key, None)
        self.ledger.hung_up(key[1], key[0], time.monotonic())
        self.ledger.camera_off(key[1], key[0], time.monotonic())
        await self.callers.pop(key).stop()

    async def stop(self) -> None:
        keys = list(self.callers)
        await asyncio.gather(*(self._hang_up(key) for key in keys))


def _key(session: Session, resource: Resource | None) -> tuple[str, str] | None:
    return (session.actor.id, resource.key) if resource is not None else None
