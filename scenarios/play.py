"""The runtime every scenario shares: logged-in actors, step functions, and the recorder that has
every observation judged and turned into events.

Step functions are small and registered by name in STEPS, so a scenario is plain data: a list of
phases, each one step applied to every patient at the same moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from harness.adapters import Session
from harness.errors import InfrastructureError
from harness.events import Event, FindingRaised, StepFinished
from harness.models import Finding, Observation, Role, Step
from harness.suites import RunContext


class Recorder:
    """Judges observations, keeps the journal, and queues events for the suite to yield."""

    def __init__(self, suite: str, ctx: RunContext) -> None:
        self.suite = suite
        self.ctx = ctx
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.findings: list[Finding] = []

    def observe(self, obs: Observation, repro: tuple[Step, ...] = ()) -> list[Finding]:
        self.ctx.journal.append(obs)
        found = [replace(f, suite=self.suite, repro=repro) for f in self.ctx.judge(obs)]
        self.events.put_nowait(StepFinished(self.suite, obs.step, obs.actor, obs.status, obs.time))
        for finding in found:
            self.findings.append(finding)
            self.events.put_nowait(FindingRaised(self.suite, finding))
        return found

    def emit(self, event: Event) -> None:
        self.events.put_nowait(event)


async def drain(work: Coroutine[Any, Any, None], recorder: Recorder) -> AsyncIterator[Event]:
    """Run `work` and yield the recorder's events as they arrive, then any left over."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done() or not recorder.events.empty():
            try:
                yield await asyncio.wait_for(recorder.events.get(), timeout=0.1)
            except TimeoutError:
                continue
        task.result()
    finally:
        task.cancel()


@dataclass
class Play:
    """One scenario in progress: who is logged in, which call each patient uses, what happened."""

    ctx: RunContext
    recorder: Recorder
    name: str
    appointment: int  # index into each patient's seeded appointments
    sessions: dict[str, Session] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def patients(self) -> list[str]:
        return [a.id for a in self.ctx.world.patients]

    def consultation(self, patient: str) -> int:
        appointments = self.ctx.world.appointments_of(patient)
        return appointments[self.appointment % len(appointments)].consultation_id

    async def session(self, actor: str) -> Session:
        if actor not in self.sessions:
            self.sessions[actor] = await self.ctx.adapter.login(self.ctx.world.actors[actor])
        return self.sessions[actor]

    def step_name(self, actor: str, action: str) -> str:
        return f"{self.recorder.suite}/{self.name}/{actor}/{action}"


StepFn = Callable[[Play, str, str], Awaitable[None]]


async def call_action(play: Play, patient: str, action: str, arg: str = "") -> None:
    session = await play.session(patient)
    step = Step(patient, action, f"{arg}:{play.appointment}" if arg else str(play.appointment))
    play.steps.append(step)
    obs = await play.ctx.adapter.act(
        session,
        play.step_name(patient, f"{action}{'-' + arg if arg else ''}"),
        action,
        play.consultation(patient),
        arg,
    )
    play.recorder.observe(obs, tuple(play.steps))
    if 400 <= obs.status < 500:
        # The flow itself could not be driven: nothing was proven, so this is not a pass.
        raise InfrastructureError(
            f"{obs.method} {obs.url} as {patient} answered {obs.status}: {_detail(obs)}",
            "make sure the feature flag is on in staging and the target follows its contract",
        )


async def look(play: Play, actor: str, _: str = "") -> None:
    """Fetch everything the actor can reach and have every byte judged."""
    session = await play.session(actor)
    play.steps.append(Step(actor, "look"))
    repro = tuple(play.steps)
    for obs in await play.ctx.adapter.surfaces(session, play.step_name(actor, "look")):
        play.recorder.observe(obs, repro)


async def join(play: Play, patient: str, _: str = "") -> None:
    await call_action(play, patient, "join")


async def leave(play: Play, patient: str, _: str = "") -> None:
    await call_action(play, patient, "leave")


async def switch(play: Play, patient: str, mode: str) -> None:
    await call_action(play, patient, "switch", mode)


async def end(play: Play, patient: str, _: str = "") -> None:
    await call_action(play, patient, "end")


async def pause(play: Play, _actor: str, seconds: str) -> None:
    await asyncio.sleep(float(seconds))


STEPS: dict[str, StepFn] = {
    "join": join,
    "rejoin": join,
    "leave": leave,
    "switch": switch,
    "end": end,
    "look": look,
    "pause": pause,
}


def _detail(obs: Observation) -> str:
    text = obs.body[:200].decode("utf-8", "replace")
    return text.replace("\n", " ")


def everyone(play: Play) -> list[str]:
    """Patients and clinicians: `look` is done by every actor, since leaks show on lists."""
    return [a.id for a in play.ctx.world.actors.values() if a.role is not Role.ANONYMOUS]
