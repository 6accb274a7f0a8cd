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
headless callers' plan says (`harness.media_call.MediaPlan`): a segment holds media for
`hold_seconds` before a flow that closes it, and after the click the suite waits for the page
to say its media is settled (`browser.call_media.settled`); a page whose media failed stops
the run with the page's own message. Camera on and off are the page's doing, not the suite's.
What the pages sent goes in the world's call ledger, as the headless callers' does, so the
media oracle holds each recording of these calls to the codes its caller sent.
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
from harness.media_call import MediaCodes, MediaPlan, codes_for
from harness.media_ledger import CallLedger
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
    # What the pages sent, as the headless callers write it (harness.media_ledger): the media
    # oracle expects each recording of these calls to hold the codes it says were sent.
    ledger: CallLedger = field(default_factory=CallLedger)
    browsers: dict[str, Browser] = field(default_factory=dict)  # caller id -> their Chromium
    codes: dict[str, MediaCodes] = field(default_factory=dict)  # caller id -> their media
    live: dict[tuple[str, str], float] = field(default_factory=dict)  # (user, call) -> joined
    seconds: list[float] = field(default_factory=list)  # each finished call, join to hang-up
    callers: int = 0  # browsers launched, kept for the metrics after they close
    # (user, call) -> since when the page has sent into the segment open now
    opened: dict[tuple[str, str], float] = field(default_factory=dict)
    closing: dict[tuple[str, str], float] = field(default_factory=dict)  # flow started, held
    video: set[tuple[str, str]] = field(default_factory=set)  # calls in video: a rejoin films
    _files: tempfile.TemporaryDirectory[str] | None = None  # the fake capture files

    async def launch(
        self, playwright: Playwright, chromium: str, world: World, callers: Iterable[Actor]
    ) -> None:
        """One Chromium per caller whose media can carry a canary (no canary: no proof, and
        they join through the shared browser, as without media). The capture files (about
        4 MB a caller) live in a temporary directory until `close`. The callers' files are
        written and their browsers started at once (three: 0.5-0.65 s here, against
        0.75-0.8 s one after another)."""
        self._files = tempfile.TemporaryDirectory(prefix="chaperone-capture-")
        directory = Path(self._files.name)
        coded = [
            (actor, codes)
            for actor in callers
            if (codes := codes_for(actor, world.ownership.canaries)) is not None
        ]

        async def start(actor: Actor, codes: MediaCodes) -> Browser:
            capture = await asyncio.to_thread(
                write_capture, directory, actor.id, codes, actor.display_name
            )
            return await launch_chromium(playwright, chromium, capture.chromium_args())

        started = await asyncio.gather(
            *(start(actor, codes) for actor, codes in coded), return_exceptions=True
        )
        for (actor, codes), browser in zip(coded, started, strict=True):
            if not isinstance(browser, BaseException):
                # kept, so `close` stops every browser that did start, whatever failed
                self.browsers[actor.id] = browser
                self.codes[actor.id] = codes
                self.callers += 1
        failed = [e for e in started if isinstance(e, BaseException)]
        if failed:
            raise failed[0]

    def browser_for(self, actor: str, shared: Browser) -> tuple[Browser, tuple[str, ...]]:
        own = self.browsers.get(actor)
        return (own, MEDIA_PERMISSIONS) if own is not None else (shared, ())

    def is_media_flow(self, flow: str) -> bool:
        plan = self.plan
        return flow in (*plan.start, *plan.camera_on, *plan.camera_off, *plan.stop)

    async def before(self, flow: str, user: BrowserUser, call: str) -> None:
        """Let media flow before a flow that closes a segment, so it holds a readable code:
        until the segment has held it `hold_seconds` (a look in it counts)."""
        key = (user.actor.id, call)
        if not self.plan.action(flow).hold or not call:
            return
        if key in self.live:
            await asyncio.sleep(self.plan.left_to_hold(self.opened.get(key), time.monotonic()))
        # With or without a page on the call: a segment closed with nobody sending expects
        # nothing, and the ledger must know it was closed.
        self.closing[key] = time.monotonic()

    async def after(self, flow: str, user: BrowserUser, call: str) -> None:
        """Wait for the page's media to settle after a successful click; track the call in
        the ledger. The page turns its camera on before it posts a switch to video, and off
        after it posts the switch back: both are written as the click began, so the video
        segment counts as filmed and the audio segment after it does not."""
        key, action = (user.actor.id, call), self.plan.action(flow)
        started = self.closing.pop(key, None)
        if user.actor.id in self.browsers:
            await self._settled(flow, user)
        now = time.monotonic()
        if started is not None:
            self.ledger.closing(call, started, now)
            self.opened[key] = now
        codes = self.codes.get(user.actor.id)
        if codes is None or not call:
            return
        if action.after == "start" and key not in self.live:
            self.live[key] = self.opened[key] = now
            self.ledger.live(call, user.actor.id, now, codes.audio)
            if key in self.video:  # the page joins again with the camera on at once
                self.ledger.camera(call, user.actor.id, now)
        elif action.before == "camera_on" and started is not None:
            self.video.add(key)
            self.ledger.camera(call, user.actor.id, started)
        elif action.after == "camera_off" and started is not None:
            self.video.discard(key)
            self.ledger.camera_off(call, user.actor.id, started)
        elif action.after == "stop" and key in self.live:
            self.seconds.append(now - self.live.pop(key))
            self.ledger.hung_up(call, user.actor.id, now)
            self.ledger.camera_off(call, user.actor.id, now)

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
