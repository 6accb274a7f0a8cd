"""The stateful suite reads every user's lists side by side (`_together`): the answers come
back in the users' order whoever finishes first, and the first failure stops the others."""

from __future__ import annotations

import asyncio

from harness.errors import TargetUnreachable
from harness.models import Observation
from scenarios.stateful import _together


def test_looks_come_back_in_the_users_order_and_run_at_once() -> None:
    running: list[int] = []
    peak = 0

    async def look(who: int, delay: float) -> list[Observation]:
        nonlocal peak
        running.append(who)
        peak = max(peak, len(running))
        await asyncio.sleep(delay)
        running.remove(who)
        return [Observation.__new__(Observation)] * who

    async def scenario() -> list[list[Observation]]:
        return await _together([look(1, 0.05), look(2, 0.0), look(3, 0.02)])

    seen = asyncio.run(scenario())
    assert [len(s) for s in seen] == [1, 2, 3]
    assert peak == 3


def test_the_first_failure_stops_the_other_looks() -> None:
    finished: list[str] = []

    async def slow() -> list[Observation]:
        await asyncio.sleep(0.05)
        finished.append("slow")
        return []

    async def broken() -> list[Observation]:
        raise TargetUnreachable("connection refused", "start the target")

    async def scenario() -> str:
        try:
            await _together([slow(), broken()])
        except TargetUnreachable as exc:
            # The loop goes on (it is the run's one loop): the other look must not.
            await asyncio.sleep(0.2)
            return exc.problem
        return "no error"

    assert asyncio.run(scenario()) == "connection refused"
    assert finished == []
