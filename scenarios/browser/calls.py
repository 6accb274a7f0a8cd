"""Real calls in the browser suite (`--media real`): the page's own getUserMedia and
RTCPeerConnection, fed by Chromium's fake devices.

Each owner who joins a call gets a Chromium of their own (the fake-capture flags are per browser
process), started with `<user>.y4m` (their QR code, their name above it) and `<user>.wav`
(their audio code), written to a temporary directory (removed after the run) from the codes
the run's seed made (`harness.media_call.codes_for`, as for the headless callers). Users who
make no call share one browser.

The call lives in a tab of its own that stays open from the join to the end, as a person keeps
the call open while reading their profile in another tab: navigating the call's tab away would
hang the call up. Around each media flow (the profile's `media.flows`) the suite does what the
headless callers' plan says (`harness.media_call.MediaPlan`): media flows `hold_seconds` before
a flow that closes a recorded segment, and after the click the suite waits for the page to say
its media is settled (`browser.call_media.settled`); a page whose media failed stops the run
with the page's own message. Camera on and off are the page's doing, not the suite's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, Playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.errors import InfrastructureError
from harness.fake_capture import write_capture
from harness.media_call import MediaPlan, codes_for
from harness.models import Actor
from harness.profile.drivers_model import BrowserCallMedia
from harness.world import World
from scenarios.browser.launch import launch_chromium
from scenarios.browser.user import BrowserUser

__all__ = ["BrowserCalls"]

MEDIA_PERMISSIONS = ("camera", "microphone")


@dataclass
class BrowserCalls:
    """Who calls from their own browser, and the calls in progress."""

    spec: BrowserCallMedia
    plan: MediaPlan
    browsers: dict[str, Browser] = field(default_factory=dict)  # caller id -> their Chromium
    live: dict[tuple[str, str], float] = field(default_factory=dict)  # (user, call) -> joined
    seconds: list[float] = field(default_factory=list)  # each finished call, join to hang-up
    callers: int = 0  # browsers launched, kept for the metrics after they close
    _files: tempfile.TemporaryDirectory[str] | None = None  # the fake capture files

    async def launch(
        self, playwright: Playwright, chromium: str, world: World, callers: Iterable[Actor]
    ) -> None:
        """One Chromium per caller whose media can carry a canary (no canary: no proof, and
        they join through the shared browser, as without media). The capture files (about
        4 MB a caller) live in a temporary directory until `close`."""
        self._files = tempfile.TemporaryDirectory(prefix="chaperone-capture-")
        directory = Path(self._files.name)
        for actor in callers:
            codes = codes_for(actor, world.ownership.canaries)
            if codes is None:
                continue
            capture = await asyncio.to_thread(
                write_capture, directory, actor.id, codes, actor.display_name
            )
            self.browsers[actor.id] = await launch_chromium(
                playwright, chromium, capture.chromium_args()
            )
            self.callers += 1

    def browser_for(self, actor: str, shared: Browser) -> tuple[Browser, tuple[str, ...]]:
        own = self.browsers.get(actor)
        return (own, MEDIA_PERMISSIONS) if own is not None else (shared, ())

    def is_media_flow(self, flow: str) -> bool:
        plan = self.plan
        return flow in (*plan.start, *plan.camera_on, *plan.camera_off, *plan.stop)

    async def before(self, flow: str, user: BrowserUser, call: str) -> None:
        """Let media flow before a flow that closes a segment, so it holds a readable code."""
        if self.plan.action(flow).hold and (user.actor.id, call) in self.live:
            await asyncio.sleep(self.plan.hold_seconds)

    async def after(self, flow: str, user: BrowserUser, call: str) -> None:
        """Wait for the page's media to settle after a successful click; track the call."""
        if user.actor.id not in self.browsers:
            return
        await self._settled(flow, user)
        key, action = (user.actor.id, call), self.plan.action(flow)
        if action.after == "start":
            self.live.setdefault(key, time.monotonic())
        elif action.after == "stop" and key in self.live:
            self.seconds.append(time.monotonic() - self.live.pop(key))

    async def _settled(self, flow: str, user: BrowserUser) -> None:
        page, spec = user.page, self.spec
        try:
            await page.wait_for_selector(spec.settled, state="attached", timeout=spec.settle_ms)
        except PlaywrightTimeout:
            raise InfrastructureError(
                f"flow {flow} as {user.actor.id}: the call page's media did not settle within "
                f"{spec.settle_ms / 1000:.0f} s ({spec.settled} never matched)",
                "check that the app serves real calls (the clinic: serve --media real) and the "
                "profile's browser.call_media selectors",
            ) from None
        if spec.failed is not None and await page.locator(spec.failed).count():
            said = ""
            if spec.message is not None and await page.locator(spec.message).count():
                said = (await page.locator(spec.message).first.text_content() or "").strip()
            raise InfrastructureError(
                f"flow {flow} as {user.actor.id}: the call page's media failed: "
                f"{said or 'no message'}",
                "check Chromium's fake devices and the app's signalling (docs/media.md)",
            )

    async def close(self) -> None:
        browsers, self.browsers = list(self.browsers.values()), {}
        for browser in browsers:
            await browser.close()
        if self._files is not None:
            self._files.cleanup()
            self._files = None

    def metrics(self) -> dict[str, object]:
        return {
            "media_callers": self.callers,
            "media_calls": len(self.seconds),
            "media_call_seconds": [round(s, 2) for s in self.seconds],
        }
