"""What the browser suite does around a real call's flows (`--media real`): hold before a flow
that closes a segment, wait for the page's media to settle after the click, and stop with the
page's own message when its media failed. A fake page stands in for Chromium."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pytest
from playwright.async_api import Browser
from playwright.async_api import TimeoutError as PlaywrightTimeout

from harness.errors import InfrastructureError
from harness.media_call import MediaCodes, MediaPlan
from harness.media_ledger import CallLedger, Expected
from harness.models import Actor
from harness.profile.drivers_model import BrowserCallMedia
from scenarios.browser.calls import BrowserCalls

SPEC = BrowserCallMedia(settled="#settled", failed="#failed", message="#error", settle_ms=50)
HOLD = 0.2
CODE = "zq0123456789"
PLAN = MediaPlan(
    start=("join",),
    camera_on=("switch_to_video",),
    camera_off=("switch_to_audio",),
    stop=("end", "leave"),
    hold_seconds=HOLD,
)


@dataclass
class FakeLocator:
    matches: int
    text: str = ""

    async def count(self) -> int:
        return self.matches

    @property
    def first(self) -> FakeLocator:
        return self

    async def text_content(self) -> str:
        return self.text


@dataclass
class FakePage:
    settles: bool = True
    failed: bool = False
    message: str = ""
    waited: list[str] = field(default_factory=list)

    async def wait_for_selector(self, selector: str, state: str, timeout: float) -> None:
        self.waited.append(selector)
        if not self.settles:
            raise PlaywrightTimeout("Timeout exceeded")

    def locator(self, selector: str) -> FakeLocator:
        if selector == "#failed":
            return FakeLocator(int(self.failed))
        return FakeLocator(1, self.message)


@dataclass
class FakeUser:
    actor: Actor
    page: FakePage


def _calls(*callers: str) -> BrowserCalls:
    calls = BrowserCalls(SPEC, PLAN)
    # Only who has a browser of their own matters here, not the browser.
    calls.browsers = {c: cast(Browser, object()) for c in callers}
    calls.codes = {c: MediaCodes(video=f"{c} {CODE}", audio=CODE) for c in callers}
    return calls


def _run(work: Any) -> Any:
    return asyncio.run(work)


def test_media_flows_are_the_plans_and_only_those() -> None:
    calls = _calls()
    assert all(calls.is_media_flow(f) for f in ("join", "switch_to_video", "end", "leave"))
    assert not calls.is_media_flow("withdraw_consent")


def test_a_call_is_held_before_each_flow_that_closes_a_segment_and_timed_join_to_hang_up() -> None:
    calls, user = _calls("p1"), FakeUser(Actor("p1", "patient"), FakePage())

    async def call() -> list[float]:
        held = []
        for flow in ("join", "switch_to_video", "switch_to_audio", "end"):
            started = time.monotonic()
            await calls.before(flow, user, "appointment:0")  # type: ignore[arg-type]
            held.append(time.monotonic() - started)
            await calls.after(flow, user, "appointment:0")  # type: ignore[arg-type]
        return held

    held = _run(call())
    # Joining closes nothing; the switches and the end each close a segment of a live call.
    assert held[0] < HOLD and all(h >= HOLD for h in held[1:])
    assert user.page.waited == ["#settled"] * 4
    assert calls.live == {} and len(calls.seconds) == 1 and calls.seconds[0] >= 3 * HOLD
    assert calls.metrics()["media_calls"] == 1


def test_no_hold_and_no_wait_for_a_user_not_in_a_call_of_their_own() -> None:
    calls = _calls("p1")
    other = FakeUser(Actor("c1", "clinician"), FakePage(settles=False))

    async def flows() -> float:
        started = time.monotonic()
        await calls.before("end", other, "appointment:0")  # type: ignore[arg-type]
        await calls.after("end", other, "appointment:0")  # type: ignore[arg-type]
        return time.monotonic() - started

    assert _run(flows()) < HOLD and other.page.waited == []


def test_a_page_that_never_settles_or_whose_media_failed_stops_the_run_with_its_message() -> None:
    calls = _calls("p1")
    stuck = FakeUser(Actor("p1", "patient"), FakePage(settles=False))
    with pytest.raises(InfrastructureError, match=r"did not settle.*#settled never matched"):
        _run(calls.after("join", stuck, "appointment:0"))  # type: ignore[arg-type]
    failed = FakeUser(
        Actor("p1", "patient"), FakePage(failed=True, message="media: no answer to the offer")
    )
    with pytest.raises(InfrastructureError, match="media failed: media: no answer to the offer"):
        _run(calls.after("join", failed, "appointment:0"))  # type: ignore[arg-type]
    assert calls.live == {}  # a failed join is no call


def test_what_the_page_sent_goes_in_the_ledger_as_a_headless_callers_does() -> None:
    """Live from the join's settle to the end's; the camera from the click that switched to
    video to the click that switched back (the page posts the switch back before it stops the
    camera: the audio segment after it is not filmed); every closing flow, with or without a
    page of its own on the call. Segments held long enough expect the page's audio code, and
    the video one a picture."""
    ledger = CallLedger()
    calls = _calls("p1")
    calls.ledger = ledger
    calls.plan = replace(PLAN, hold_seconds=1.5)  # over a 12-character code's 0.74 s
    user = FakeUser(Actor("p1", "patient"), FakePage())
    nobody = FakeUser(Actor("c1", "clinician"), FakePage())

    async def call() -> None:
        for flow in ("join", "switch_to_video", "switch_to_audio", "end"):
            await calls.before(flow, user, "appointment:0")  # type: ignore[arg-type]
            await calls.after(flow, user, "appointment:0")  # type: ignore[arg-type]
        await calls.before("end", nobody, "appointment:9")  # type: ignore[arg-type]
        await calls.after("end", nobody, "appointment:9")  # type: ignore[arg-type]

    _run(call())
    read = ("GET /media", "p1", "p1")
    for entity in ("recording:1", "recording:2", "recording:3"):
        ledger.recorded(entity, "appointment:0")
        ledger.judged(entity, False, read)  # no picture in any: the video one lacks its own
    ledger.recorded("recording:9", "appointment:9")
    assert ledger.expected("recording:1") == Expected("appointment:0", (CODE,))
    assert ledger.expected("recording:9") is None  # closed with nobody sending
    missing = ledger.missing_video()
    assert [(m.call, m.filmed, m.pictured) for m in missing] == [("appointment:0", 1, 0)]
    ledger.judged("recording:2", True, read)
    assert ledger.missing_video() == []
