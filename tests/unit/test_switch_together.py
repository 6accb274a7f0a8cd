"""Switch scenarios whose casts share no owner play at the same time (scenarios.switch).

Under several seeds each scenario is played by a window of the owners, and successive windows
are disjoint: those scenarios play at once, on one stage (one login per user, one push channel
per watcher), and are still judged and reported one by one."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from harness.config import RunOptions
from harness.errors import InfrastructureError
from harness.events import CaseFinished, Event, FindingRaised, StepFinished, SuiteFinished
from harness.models import Verdict
from scenarios.cast import Cast
from scenarios.switch import LOOK_AROUND, Scenario, _all, _Part, _together
from tests.unit.inprocess import run_inprocess

# 8 patients over 2 seeds: casts of 4, so two successive scenarios share no owner.
TWO_SEEDS = RunOptions(
    suites=("switch",),
    population={"patient": 8, "clinician": 2, "appointment": 10},
    extra_seeds=(1,),
)
PLAYED = Scenario("s", "", ("join", "end", "look"))


def _part(*players: str) -> _Part:
    return _Part(PLAYED, 0, Cast(frozenset(players), frozenset(), players))


def test_only_disjoint_casts_play_together() -> None:
    batch = [_part("p0", "p1")]
    assert _together(batch, _part("p2", "p3"))
    assert not _together(batch, _part("p1", "p2"))  # p1 would be in two calls at once
    assert not _together(batch, _Part(PLAYED, 1, None))  # everyone plays: alone
    assert not _together([_Part(PLAYED, 0, None)], _part("p2"))
    assert not _together(batch, _Part(LOOK_AROUND, 2, None))  # a look by everyone: alone


def _spans(events: list[Event], suite: str) -> dict[str, tuple[float, float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if isinstance(e, StepFinished) and e.suite == suite:
            times[e.step.split("/")[1]].append(e.time)
    return {name: (min(t), max(t)) for name, t in times.items()}


def test_two_seeds_play_disjoint_casts_at_once_and_pass_on_the_clean_clinic(
    tmp_path: Path,
) -> None:
    events = run_inprocess(tmp_path, TWO_SEEDS)
    assert [e for e in events if isinstance(e, FindingRaised)] == []
    finished = [e for e in events if isinstance(e, SuiteFinished)]
    assert [f.verdict for f in finished] == [Verdict.PASS, Verdict.PASS]
    assert all(f.metrics["played_at_once"] == 2 for f in finished)
    spans = _spans(events, "switch")
    # The first two scenarios share no owner: their steps overlap in time.
    (a0, a1), (b0, b1) = spans["switch-mid-call"], spans["repeated-switches"]
    assert a0 < b1 and b0 < a1
    # Each scenario is still reported on its own, in the profile's order.
    cases = [e.name for e in events if isinstance(e, CaseFinished) and e.suite == "switch"]
    assert cases[:3] == ["switch-mid-call", "repeated-switches", "switch-back-to-audio"]
    assert cases[-1] == "look-around"  # everyone looks last, alone


def test_a_fault_in_a_scenario_played_alongside_another_is_still_found(tmp_path: Path) -> None:
    events = run_inprocess(tmp_path, TWO_SEEDS, frozenset({"switch-recording-misattribution"}))
    found = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert any(f.owner != f.observer and f.suite.startswith("switch") for f in found)


def test_the_first_failure_cancels_the_scenarios_beside_it_and_is_raised_as_itself() -> None:
    cancelled = []

    async def fails() -> None:
        await asyncio.sleep(0.01)
        raise InfrastructureError("flow join as p0: 500", "fix the app")

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(InfrastructureError, match="flow join"):
        asyncio.run(asyncio.wait_for(_all([fails(), slow()]), 5))
    assert cancelled == [True]
