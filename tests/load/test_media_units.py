"""Real calls in the load suite, without Locust: the call loop on its own thread, what a journey
user's caller does around each flow, and the leak check's budget for decoding recordings (what
it skips is lost coverage, never clean)."""

from __future__ import annotations

import asyncio
import threading
import time
from functools import cache
from typing import Any

import pytest

from harness.coverage import Coverage
from harness.errors import InfrastructureError
from harness.media_call import MediaPlan
from harness.media_canary import encode_webm
from harness.models import Observation
from harness.world import Resource
from load.call_loop import CallLoop
from load.calls import CallDriver
from load.checker import OVER_BUDGET, CheckBudget, LeakChecker, MediaTally, observation_of
from tests.fake_caller import FakeCaller
from tests.load.worlds import memory_world, of_role

WORLD = memory_world()
PATIENTS = of_role(WORLD, "patient")
MEDIA = "GET /api/recordings/{recording_id}/media"


def _thread(fn: object) -> object:
    thread = threading.Thread(target=fn, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_the_call_loop_runs_coroutines_on_its_own_thread() -> None:
    loop = CallLoop(_thread)
    try:

        async def where() -> int:
            await asyncio.sleep(0.01)
            return threading.get_ident()

        assert loop.run(where(), 5, "answer") != threading.get_ident()

        async def broken() -> None:
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused"):
            loop.run(broken(), 5, "answer")
        with pytest.raises(InfrastructureError, match="did not answer within 0 s"):
            loop.run(asyncio.sleep(5), 0.05, "answer")
    finally:
        loop.close()


def test_a_journey_users_caller_follows_join_switches_and_end() -> None:
    log: list[str] = []
    plan = MediaPlan(
        start=("join",),
        camera_on=("switch_to_video",),
        camera_off=("switch_to_audio",),
        stop=("end",),
        hold_seconds=2.6,
    )
    loop = CallLoop(_thread)
    resource = Resource(kind="consultation", owner=PATIENTS[0], index=0)
    driver = CallDriver(loop, plan, lambda r: FakeCaller(log), lambda s: log.append(f"hold {s}"))  # type: ignore[arg-type,return-value]
    try:
        driver.before("join", resource)
        driver.after("join", resource, done=False)  # a refused join starts no call
        assert log == [] and driver.caller is None
        for flow in ("join", "switch_to_video", "switch_to_audio", "end"):
            driver.before(flow, resource)
            driver.after(flow, resource, done=True)
    finally:
        loop.close()
    assert log == [
        "start",
        "camera_on",
        "hold 2.6",
        "hold 2.6",
        "camera_off",
        "hold 2.6",
        "stop",
    ]
    assert driver.caller is None and driver.calls == 1


CALL = Resource(kind="consultation", owner=PATIENTS[0], index=0)


def spanning(
    make: type[FakeCaller], spans: list[tuple[float | None, float]]
) -> tuple[CallLoop, CallDriver]:
    """A driver of `make` callers on a call loop, telling `spans` each call's live span."""
    loop = CallLoop(_thread)
    plan = MediaPlan(start=("join",), stop=("end",), hold_seconds=0.0)
    live = lambda a, b: spans.append((a, b))  # noqa: E731
    return loop, CallDriver(loop, plan, lambda r: make([]), lambda s: None, live)  # type: ignore[arg-type,return-value]


def test_each_call_reports_when_it_was_live_and_the_peak_counts_overlaps_only() -> None:
    spans: list[tuple[float | None, float]] = []
    loop, driver = spanning(FakeCaller, spans)
    resource = CALL
    try:
        before = time.time()
        driver.after("join", resource, done=True)
        driver.after("end", resource, done=True)
    finally:
        loop.close()
    ((since, until),) = spans
    assert since is not None and before - 1 <= since <= until <= time.time()
    tally = MediaTally()
    # Two workers' tallies: three calls overlap around t=5, the fourth starts as one ends.
    tally.absorb({"calls": [[0, 10], [2, 6]]})
    tally.absorb({"calls": [[4, 8], [10, 12]]})
    assert tally.peak_calls() == 3 and not tally.empty()
    assert MediaTally().peak_calls() == 0 and MediaTally().empty()


class _Silent(FakeCaller):
    """A caller whose connection never comes up: it sends nothing."""

    async def start(self) -> None:
        self.log.append("start")


def test_a_call_that_never_connected_is_reported_unless_stopped_before_it_could() -> None:
    spans: list[tuple[float | None, float]] = []
    loop, driver = spanning(_Silent, spans)
    resource = CALL
    try:
        driver.after("join", resource, done=True)
        driver.close(wait=False)  # the run stopped it at once: it had no time to connect
        assert spans == []
        driver.after("join", resource, done=True)
        driver.after("end", resource, done=True)  # its flow hung up: it should have connected
    finally:
        loop.close()
    assert [since for since, _ in spans] == [None]


def test_the_budget_is_a_share_of_wall_time_plus_an_allowance() -> None:
    budget = CheckBudget(share=0.5, allowance=10.0, started=100.0)
    budget.spent = 14.0
    assert not budget.exhausted(now=110.0)  # 10 + 0.5 * 10 = 15
    assert budget.exhausted(now=106.0)  # 10 + 0.5 * 6 = 13


@cache
def _foreign_recording() -> bytes:
    other = next(c.value for c in WORLD.ownership.for_owner(PATIENTS[1]) if c.kind == "name")
    return encode_webm(video=[(other, 3.0)], audio=[(other, 3.0)])


def _media(actor: str, body: bytes) -> Observation:
    return observation_of(
        actor=actor,
        step=f"load/{actor}/{MEDIA}",
        endpoint=MEDIA,
        method="GET",
        url="/api/recordings/7/media",
        status=200,
        headers=[("content-type", "video/webm")],
        body=body,
        elapsed=0.01,
    )


def test_another_patients_face_and_voice_in_a_recording_are_found_in_the_worker() -> None:
    checker = LeakChecker.for_world(WORLD)
    checker.set_coverage(Coverage())
    found = checker.check(_media(PATIENTS[0], _foreign_recording()))
    assert {f.surface.kind.value for f in found} == {"media:video", "media:audio"}
    assert {f.owner for f in found} == {PATIENTS[1]}
    assert checker.media.decoded == 1 and checker.media.skipped == 0
    assert checker.budget.spent > 0


def test_a_recording_past_the_budget_is_lost_coverage_never_clean() -> None:
    checker = LeakChecker.for_world(WORLD, budget=CheckBudget(share=0.0, allowance=0.0))
    coverage = Coverage()
    checker.set_coverage(coverage)
    checker.budget.spent = 1.0
    assert checker.check(_media(PATIENTS[0], _foreign_recording())) == []
    assert checker.media.skipped == 1 and checker.media.decoded == 0
    [row] = coverage.rows()
    assert (row.route, row.lost, dict(row.reasons)) == (MEDIA, 1, {OVER_BUDGET: 1})


def test_only_recordings_are_judged_where_the_process_offloads_them() -> None:
    checker = LeakChecker.for_world(WORLD)
    offloaded: list[int] = []

    def offload(judging: Any) -> Any:
        offloaded.append(1)
        return judging()

    checker.offload = offload
    found = checker.check(_media(PATIENTS[0], _foreign_recording()))
    assert found and offloaded == [1]
    page = observation_of(
        actor=PATIENTS[0],
        step="load/p/GET /profile",
        endpoint="GET /profile",
        method="GET",
        url="/profile",
        status=200,
        headers=[("content-type", "text/html")],
        body=b"<p>nothing</p>",
        elapsed=0.01,
    )
    checker.check(page)
    assert offloaded == [1]


def test_real_calls_that_never_connected_make_the_load_leak_case_an_error() -> None:
    from types import SimpleNamespace

    from harness.models import Verdict
    from load.suite import _leak_case

    plan = SimpleNamespace(check_leaks=True, media=True)
    case = _leak_case({}, plan, 1.0, MediaTally(decoded=5, unconnected=2))  # type: ignore[arg-type]
    assert case.verdict is Verdict.ERROR and "2 real call(s) never connected" in case.message
    assert _leak_case({}, plan, 1.0, MediaTally(decoded=5)).verdict is Verdict.PASS  # type: ignore[arg-type]


def test_closing_the_call_loop_lets_a_hang_up_finish_and_ends_its_thread() -> None:
    """What a stopped user handed the loop (a hang-up) finishes before the loop stops, and
    `close` returns once the loop's thread has ended: nothing of aiortc or PyAV is at work
    there when the Locust process exits. What outlasts the bound is cancelled."""
    loop = CallLoop(_thread)
    finished: list[str] = []

    async def hang_up() -> None:
        await asyncio.sleep(0.3)
        finished.append("hung up")

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            finished.append("cancelled")
            raise

    loop.submit(hang_up(), 5.0)
    loop.submit(stuck(), 60.0)
    started = time.monotonic()
    loop.close(timeout=1.0)
    assert finished == ["hung up", "cancelled"]
    assert not loop.loop.is_running()
    assert time.monotonic() - started < 4.0
