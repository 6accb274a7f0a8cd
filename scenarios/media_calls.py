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

    async def before(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        caller = self._live(session, resource)
        if caller is None:
            return
        if action.before == "camera_on":
            await caller.camera_on()
        if action.hold:
            await asyncio.sleep(self.plan.hold_seconds)

    async def after(self, flow: str, session: Session, resource: Resource | None) -> None:
        action = self.plan.action(flow)
        key = _key(session, resource)
        if action.after == "start" and key is not None and key not in self.callers:
            caller = self.calls.caller(session, resource)
            if caller is not None:
                self.callers[key] = caller
                await caller.start()
        caller = self._live(session, resource)
        if caller is None:
            return
        if action.after == "camera_off":
            await caller.camera_off()
        elif action.after == "stop" and key is not None:
            await self.callers.pop(key).stop()

    async def stop(self) -> None:
        callers, self.callers = list(self.callers.values()), {}
        await asyncio.gather(*(c.stop() for c in callers))

    def _live(self, session: Session, resource: Resource | None) -> Caller | None:
        key = _key(session, resource)
        return self.callers.get(key) if key is not None else None


def _key(session: Session, resource: Resource | None) -> tuple[str, str] | None:
    return (session.actor.id, resource.key) if resource is not None else None
