"""Real calls during a scenario (`--media real`): each owner's caller follows their flows.

The target's `media:` section (harness.media_call.MediaPlan) says what each flow does to the
caller: a join starts it (microphone only), a switch to video adds the camera before the
switch, a switch back drops it after, an end hangs up. Media flows for `hold_seconds` before
any flow that closes a recorded segment, so every recording holds a readable code.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from harness.adapters import Session
from harness.adapters.capabilities import CallsCapable
from harness.media_call import MediaPlan
from harness.rtc_caller import Caller
from harness.world import Resource

__all__ = ["MediaCalls"]


@dataclass
class MediaCalls:
    """The live callers of one scenario, one per (user, call)."""

    calls: CallsCapable
    plan: MediaPlan
    callers: dict[tuple[str, str], Caller] = field(default_factory=dict)
    # Calls whose camera is on: a caller that joins one again turns theirs on at once.
    video: set[tuple[str, str]] = field(default_factory=set)

    async def before(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        key = _key(session, resource)
        caller = self.callers.get(key) if key is not None else None
        if key is None or caller is None:
            return
        if action.before == "camera_on":
            await caller.camera_on()
            self.video.add(key)
        if action.hold:
            await asyncio.sleep(self.plan.hold_seconds)

    async def after(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        key = _key(session, resource)
        if key is None:
            return
        if action.after == "start" and key not in self.callers:
            await self._start(key, session, resource)
        caller = self.callers.get(key)
        if caller is None:
            return
        if action.after == "camera_off":
            await caller.camera_off()
            self.video.discard(key)
        elif action.after == "stop":
            await self.callers.pop(key).stop()

    async def _start(
        self, key: tuple[str, str], session: Session, resource: Resource | None
    ) -> None:
        caller = self.calls.caller(session, resource)
        if caller is None:
            return
        self.callers[key] = caller
        await caller.start()
        if key in self.video:
            await caller.camera_on()

    async def stop(self) -> None:
        callers, self.callers = list(self.callers.values()), {}
        await asyncio.gather(*(c.stop() for c in callers))


def _key(session: Session, resource: Resource | None) -> tuple[str, str] | None:
    return (session.actor.id, resource.key) if resource is not None else None
