"""The `switch` suite: multi-user audio->video flows, every patient at once.

A scenario is data: phases of (step, argument). Each phase runs its step for every patient
concurrently (asyncio.gather), because the incident needed two users and a mid-call state
change; `look` phases are done by every actor, patients and clinicians. To add a scenario,
append a Scenario to SCENARIOS; new step functions go in scenarios.play.STEPS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from harness.events import CaseFinished, Event, SuiteFinished, SuiteStarted
from harness.models import Verdict
from harness.suites import RunContext
from scenarios.play import STEPS, Play, Recorder, drain, everyone

Phase = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    phases: tuple[Phase, ...]


LOOK: Phase = ("look", "")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "switch-mid-call",
        "every patient joins, then all switch audio->video mid-call, then end",
        (("join", ""), ("pause", "0.05"), ("switch", "video"), LOOK, ("end", ""), LOOK),
    ),
    Scenario(
        "repeated-switches",
        "video, audio, video again in one call",
        (
            ("join", ""),
            ("switch", "video"),
            ("switch", "audio"),
            ("switch", "video"),
            ("end", ""),
            LOOK,
        ),
    ),
    Scenario(
        "switch-back-to-audio",
        "video then back to audio before the end",
        (("join", ""), ("switch", "video"), LOOK, ("switch", "audio"), ("end", ""), LOOK),
    ),
    Scenario(
        "rejoin-after-switch",
        "switch to video, drop out, rejoin the same call",
        (("join", ""), ("switch", "video"), ("leave", ""), ("rejoin", ""), LOOK, ("end", ""), LOOK),
    ),
    Scenario(
        "switch-near-end",
        "switch to video and end the call straight away",
        (("join", ""), ("switch", "video"), ("end", ""), LOOK),
    ),
    Scenario(
        "concurrent-switch-storm",
        "all patients switch at the same instant, twice",
        (("join", ""), ("switch", "video"), ("switch", "audio"), LOOK, ("end", ""), LOOK),
    ),
)


def run_switch(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `switch` suite."""
    yield from ctx.loop.stream(_switch(ctx), ctx.cancel)


async def _switch(ctx: RunContext) -> AsyncIterator[Event]:
    started = time.time()
    yield SuiteStarted("switch", total_steps=len(SCENARIOS), time=started)
    verdicts: list[Verdict] = []
    for index, scenario in enumerate(SCENARIOS):
        recorder = Recorder("switch", ctx)
        play = Play(ctx, recorder, scenario.name, appointment=index)
        t0 = time.time()
        async for event in drain(_play(play, scenario), recorder):
            yield event
        verdict = Verdict.FAIL if recorder.findings else Verdict.PASS
        verdicts.append(verdict)
        yield CaseFinished(
            "switch",
            scenario.name,
            verdict,
            time.time() - t0,
            message=f"{len(recorder.findings)} finding(s)" if recorder.findings else "",
            finding_keys=tuple(f.key for f in recorder.findings),
        )
    yield SuiteFinished(
        "switch",
        Verdict.merge(*verdicts),
        time.time() - started,
        time.time(),
        metrics={"scenarios": len(SCENARIOS), "patients": len(ctx.world.patients)},
    )


async def _play(play: Play, scenario: Scenario) -> None:
    for action, arg in scenario.phases:
        step = STEPS[action]
        actors = everyone(play) if action == "look" else play.patients
        if action == "pause":
            actors = actors[:1]
        await asyncio.gather(*(step(play, actor, arg) for actor in actors))
