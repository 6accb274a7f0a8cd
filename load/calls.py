"""A load user's real call (`--media real`): a headless caller that follows the user's journey.

What each flow does to the caller is the profile's `media:` section (harness.media_call.MediaPlan),
exactly as in the switch suite (scenarios.media_calls): a join starts the caller (microphone),
a switch to video adds the camera before the switch, a switch back drops it after, an end hangs
up; media flows `hold_seconds` before any flow that closes a recorded segment. The caller runs
on the process's `CallLoop` (an asyncio loop on its own OS thread); this user's greenlet waits.
Nothing here imports Locust or gevent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.media_call import MediaPlan
from harness.rtc_caller import Caller
from harness.world import Resource
from load.call_loop import CallLoop

__all__ = ["CallDriver", "prepare_media"]

_NEGOTIATION_SECONDS = 60.0  # a renegotiation on a machine busy with many calls
_HANG_UP_SECONDS = 5.0
_CONNECT_SECONDS = 15.0  # a caller's connection comes up by then (harness.rtc_caller)


def prepare_media() -> None:
    """Import what the callers and the media oracle use on the importing thread: some of it
    runs a subprocess at import (ctypes.util.find_library), which gevent only allows on the
    main thread, not on the call loop's."""
    import aiortc  # noqa: F401
    import av  # noqa: F401
    import websockets.asyncio.client  # noqa: F401

    import harness.media_canary  # noqa: F401


class CallDriver:
    """One user's caller, started, switched and stopped around the journey's flows."""

    def __init__(
        self,
        loop: CallLoop,
        plan: MediaPlan,
        make: Callable[[Resource], Caller | None],
        sleep: Callable[[float], None],
        live: Callable[[float | None, float], None] = lambda since, until: None,
    ) -> None:
        self._loop = loop
        self._plan = plan
        self._make = make
        self._sleep = sleep
        # Told each call's [connected, hung up], wall clock; None for a call that had time
        # to connect and never did (it sent nothing: lost coverage, never clean).
        self._live = live
        self._started = 0.0  # when this caller started (monotonic)
        self.caller: Caller | None = None
        self.calls = 0  # callers started

    def before(self, flow: str, resource: Resource | None) -> None:
        action = self._plan.action(flow)
        if self.caller is None or resource is None:
            return
        if action.before == "camera_on":
            self._run(self.caller.camera_on(), "turn its camera on")
        if action.hold:
            self._sleep(self._plan.hold_seconds)

    def after(self, flow: str, resource: Resource | None, done: bool) -> None:
        """After `flow` ran (`done`: every step answered as expected)."""
        action = self._plan.action(flow)
        if resource is None:
            return
        if action.after == "start" and done and self.caller is None:
            caller = self._make(resource)
            if caller is None:
                return
            self.caller = caller
            self.calls += 1
            self._started = time.monotonic()
            self._run(caller.start(), "start")
        elif self.caller is not None and action.after == "camera_off":
            self._run(self.caller.camera_off(), "turn its camera off")
        elif action.after == "stop":
            self.close()

    def close(self, wait: bool = True) -> None:
        """Hang up (the journey ended; without `wait`, the user is being stopped and must not
        block on it)."""
        caller, self.caller = self.caller, None
        if caller is None:
            return
        now, wall = time.monotonic(), time.time()
        if caller.connected_at is not None:
            self._live(wall - (now - caller.connected_at), wall)
        elif wait or now - self._started > _CONNECT_SECONDS:
            # Hung up by its flow, or stopped long after it started: it should have connected.
            self._live(None, wall)
        if wait:
            self._run(caller.stop(), "hang up")
        else:
            self._loop.submit(caller.stop(), _HANG_UP_SECONDS)

    def _run(self, coro: Any, what: str) -> None:
        self._loop.run(coro, _NEGOTIATION_SECONDS, what)
