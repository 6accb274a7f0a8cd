"""What the switch suite does to a user's caller around each flow (`--media real`), with a fake
caller that only writes down what it was asked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from harness.client.session import Session
from harness.media_call import MediaPlan
from harness.models import Actor
from harness.world import Resource
from scenarios.media_calls import MediaCalls
from tests.fake_caller import FakeCaller

PLAN = MediaPlan(
    start=("join", "rejoin"),
    camera_on=("switch_to_video",),
    camera_off=("switch_to_audio",),
    stop=("end", "leave"),
    hold_seconds=0.0,
)


@dataclass
class FakeCalls:
    log: list[str] = field(default_factory=list)
    made: int = 0

    def caller(self, session: Session, resource: Resource | None) -> Any:
        self.made += 1
        return FakeCaller(self.log)

    def media_plan(self) -> MediaPlan:
        return PLAN


def play(*flows: str) -> FakeCalls:
    calls = FakeCalls()
    media = MediaCalls(calls, PLAN)
    session = Session(Actor("p1", "patient"))
    call = Resource("appointment", "p1", 0)

    async def go() -> None:
        for flow in flows:
            await media.before(flow, session, call)
            calls.log.append(f"<{flow}>")
            await media.after(flow, session, call)
        await media.stop()

    asyncio.run(go())
    return calls


def test_the_camera_is_on_before_the_switch_to_video_and_off_after_the_switch_back() -> None:
    calls = play("join", "switch_to_video", "switch_to_audio", "end")
    assert calls.log == [
        "<join>",
        "start",
        "camera_on",
        "<switch_to_video>",
        "<switch_to_audio>",
        "camera_off",
        "<end>",
        "stop",
    ]


def test_a_caller_who_leaves_a_video_call_comes_back_with_the_camera_on() -> None:
    calls = play("join", "switch_to_video", "leave", "rejoin", "end")
    assert calls.made == 2
    assert calls.log[calls.log.index("<rejoin>") :] == [
        "<rejoin>",
        "start",
        "camera_on",
        "<end>",
        "stop",
    ]


def test_flows_outside_the_plan_leave_the_caller_alone_and_stop_hangs_up() -> None:
    calls = play("join", "withdraw_consent")
    assert calls.log == ["<join>", "start", "<withdraw_consent>", "stop"]


def test_the_ledger_records_the_callers_live_time_and_every_closing_flow() -> None:
    from harness.media_ledger import CallLedger

    ledger = CallLedger()
    media = MediaCalls(FakeCalls(), replace(PLAN, hold_seconds=2.6), ledger)
    session = Session(Actor("p1", "patient"))
    call = Resource("appointment", "p1", 0)
    bystander = Resource("appointment", "p1", 1)  # closed with no caller on it

    async def go() -> None:
        for flow, resource in (("join", call), ("switch_to_video", call), ("end", call)):
            await media.before(flow, session, resource)
            await media.after(flow, session, resource)
        await media.before("end", session, bystander)
        await media.after("end", session, bystander)

    asyncio.run(go())
    ledger.recorded("recording:1", call.key)
    ledger.recorded("recording:2", bystander.key)
    expected = ledger.expected("recording:1")
    assert expected is not None and expected.codes == ("zq0123456789",)
    assert ledger.expected("recording:2") is None


class _SlowOff(FakeCaller):
    """A caller whose switch back to audio renegotiates for 1.2 s (every owner at once)."""

    async def camera_off(self) -> None:
        await asyncio.sleep(1.2)
        await super().camera_off()


def test_a_slow_renegotiation_after_the_switch_back_does_not_film_the_audio_segment() -> None:
    from harness.media_ledger import CallLedger

    @dataclass
    class SlowCalls(FakeCalls):
        def caller(self, session: Session, resource: Resource | None) -> Any:
            return _SlowOff(self.log)

    ledger = CallLedger()
    media = MediaCalls(SlowCalls(), replace(PLAN, hold_seconds=1.1), ledger)
    session = Session(Actor("p1", "patient"))
    call = Resource("appointment", "p1", 0)

    async def go() -> None:
        for flow in ("join", "switch_to_video", "switch_to_audio", "end"):
            await media.before(flow, session, call)
            await media.after(flow, session, call)

    asyncio.run(go())
    for index, entity in enumerate(("recording:1", "recording:2", "recording:3")):
        ledger.recorded(entity, call.key)
        ledger.judged(entity, index == 1, ("GET /media", "p1", "p1"))  # the video segment
    # The camera stopped sending as the switch back began: one filmed segment, pictured.
    assert ledger.missing_video() == []


def test_a_segment_is_held_only_for_what_is_left_of_the_hold() -> None:
    """Each closing flow waits until its segment has held media `hold_seconds`: at once after
    the join (the whole hold), not at all after a look as long as the hold, and only the rest
    after a shorter one. The ledger still sees every segment at least that long."""
    from harness.media_ledger import CallLedger

    hold = 0.3
    ledger = CallLedger()
    media = MediaCalls(FakeCalls(), replace(PLAN, hold_seconds=hold), ledger)
    session = Session(Actor("p1", "patient"))
    call = Resource("appointment", "p1", 0)
    waited: dict[str, float] = {}

    async def go() -> None:
        loop = asyncio.get_running_loop()
        for flow, look in (("join", 0.0), ("switch_to_video", 0.0), ("switch_to_audio", 0.4)):
            await asyncio.sleep(look)  # a look phase between the flows
            t0 = loop.time()
            await media.before(flow, session, call)
            waited[flow] = loop.time() - t0
            await media.after(flow, session, call)
        await asyncio.sleep(0.2)
        t0 = loop.time()
        await media.before("end", session, call)
        waited["end"] = loop.time() - t0
        await media.after("end", session, call)

    asyncio.run(go())
    assert waited["switch_to_video"] >= hold - 0.01  # right after the join
    assert waited["switch_to_audio"] < 0.05  # a 0.4 s look already held it
    assert 0.05 <= waited["end"] <= hold - 0.15 + 0.05  # the rest of it after 0.2 s
    ledger.recorded("recording:1", call.key)
    assert ledger.expected("recording:1") is None  # 0.3 s segments: under a frame, no guess
