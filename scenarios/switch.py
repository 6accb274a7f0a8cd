"""The `switch` suite: multi-user flows, every owner at once, then everyone looks.

A scenario is profile data (`scenarios:`, harness.profile.model.ScenarioSpec): phases, each a
flow of the target profile, `look` or `pause:SECONDS`. Each phase runs for every owner
concurrently (asyncio.gather), because the incident needed two users and a mid-call state
change; `look` phases are done by every user. Under several seeds (the policy's `min_seeds`),
each scenario is played by a cast,
a window of the owners that moves with the seed, so that over the seeds every owner plays every
scenario once, not once per seed (`scenarios.cast`); a closing look by everyone then sees
whatever the casts left behind. A scenario whose flows the profile lacks is reported as not
applicable, never as passed; `look-around` needs no flow, and every target gets at least that.
"""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.errors import NoEffect, UsageError
from harness.events import CaseFinished, Event, SuiteFinished, SuiteStarted
from harness.models import Verdict
from harness.profile.model import ScenarioSpec
from harness.suites import RunContext
from scenarios.cast import Cast, cast_for
from scenarios.media_calls import report_unfilmed
from scenarios.play import Play, Recorder, Stage, drain, missing_flows


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    phases: tuple[str, ...]
    browser: bool = True  # the browser suite plays it too


# Every target gets at least this one: it needs no flow.
LOOK_AROUND = Scenario(
    "look-around", "every user reads everything it can reach (needs no flow)", ("look",)
)


def all_scenarios(profile_scenarios: Iterable[ScenarioSpec] = ()) -> list[Scenario]:
    """The profile's scenarios in its order, then `look-around` unless the profile has it."""
    declared = [
        Scenario(s.name, s.description, tuple(s.phases), s.browser) for s in profile_scenarios
    ]
    if all(s.name != LOOK_AROUND.name for s in declared):
        declared.append(LOOK_AROUND)
    return declared


def scenarios_for(ctx: RunContext) -> list[Scenario]:
    """The scenarios this run drives: every one, or those `--scenario` names."""
    every = all_scenarios(ctx.adapter.profile.scenarios)
    wanted = ctx.options.scenarios
    if not wanted:
        return every
    known = {s.name for s in every}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose from {', '.join(sorted(known))}"
        raise UsageError(f"unknown scenario '{unknown[0]}'", hint)
    return [s for s in every if s.name in wanted]


def run_switch(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `switch` suite."""
    yield from ctx.loop.stream(_switch(ctx), ctx.cancel)


@dataclass(frozen=True, slots=True)
class _Part:
    """A scenario as this run plays it: its slot (fresh resources) and its cast."""

    scenario: Scenario
    slot: int
    cast: Cast | None  # None: every owner plays, or it is a look by everyone


def _together(batch: list[_Part], part: _Part) -> bool:
    """Scenarios whose casts share no owner play at the same time: they act on different
    users' calls, so neither can change what the other's flows do, and the app serves them
    at once as it would two groups of users. (Together they never field more callers than
    one seed of every owner does.)"""
    if part.cast is None:
        return False
    return all(p.cast is not None and not p.cast.players & part.cast.players for p in batch)


async def _switch(ctx: RunContext) -> AsyncIterator[Event]:
    started = time.time()
    scenarios = scenarios_for(ctx)
    _enough_fresh_resources(ctx, scenarios)
    yield SuiteStarted("switch", total_steps=len(scenarios), time=started)
    slot = 0
    applicable = 0
    tally = _Tally()
    seeds = 1 + len(ctx.options.extra_seeds)
    cast_played = False  # a scenario played with part of the owners since everyone last looked
    closing = Scenario(
        "closing-look", "everyone reads everything once the cast has played", ("look",)
    )
    batch: list[_Part] = []
    for scenario in [*scenarios, closing]:
        if scenario is closing and not cast_played:
            break
        missing = missing_flows(ctx.adapter.has_flow, scenario.phases)
        if missing:
            async for event in _flush(ctx, batch, tally):
                yield event
            yield _not_applicable(scenario, missing)
            continue
        applicable += 1
        cast = None
        if len(scenario.phases) > 1:  # not a look-only scenario
            cast = cast_for(ctx.world, slot, ctx.options.seed, seeds)
            cast_played = cast_played or cast is not None
            part = _Part(scenario, slot, cast)
            slot += 1
        else:
            cast_played = False  # everyone looked
            part = _Part(scenario, slot, None)
        if batch and not _together(batch, part):
            async for event in _flush(ctx, batch, tally):
                yield event
        batch.append(part)
    async for event in _flush(ctx, batch, tally):
        yield event
    _notifications_arrived(ctx, tally.created, tally.notified)
    report_unfilmed(ctx)
    yield SuiteFinished(
        "switch",
        Verdict.merge(*tally.verdicts),
        time.time() - started,
        time.time(),
        metrics={
            "scenarios": applicable,
            "not_applicable": len(scenarios) - applicable,
            "owners": len(ctx.world.owners()),
            "played_at_once": tally.widest,
        },
    )


@dataclass
class _Tally:
    verdicts: list[Verdict] = field(default_factory=list)
    notified: int = 0
    created: bool = False
    widest: int = 0  # the most scenarios that played at the same time


async def _flush(ctx: RunContext, batch: list[_Part], tally: _Tally) -> AsyncIterator[Event]:
    """Play the batch's scenarios at once on one stage, then judge each on its own."""
    if not batch:
        return
    parts = list(batch)
    batch.clear()
    tally.widest = max(tally.widest, len(parts))
    stage = Stage()
    events: asyncio.Queue[Event] = asyncio.Queue()
    plays = []
    for part in parts:
        play = Play(ctx, Recorder("switch", ctx, events), part.scenario.name, part.slot, stage)
        if part.cast is not None:
            play.resting, play.audience = part.cast.resting, part.cast.audience
        plays.append(play)
    took: dict[str, float] = {}
    watchers = list(dict.fromkeys(w for play in plays for w in play.watchers()))

    async def work() -> None:
        try:
            await stage.open_push(ctx, watchers)
            pairs = zip(plays, parts, strict=True)
            await _all([_play(play, part.scenario, took) for play, part in pairs])
        finally:
            await stage.close_push()

    async for event in drain(work(), plays[0].recorder):
        yield event
    for play, part in zip(plays, parts, strict=True):
        recorder = play.recorder
        recorder.witness.verdict(recorder.findings, play.lookers)
        tally.notified += recorder.notified
        tally.created = tally.created or any(_creates(ctx, p) for p in part.scenario.phases)
        verdict = Verdict.FAIL if recorder.findings else Verdict.PASS
        tally.verdicts.append(verdict)
        yield CaseFinished(
            "switch",
            part.scenario.name,
            verdict,
            took.get(play.name, 0.0),
            message=f"{len(recorder.findings)} finding(s)" if recorder.findings else "",
            finding_keys=tuple(f.key for f in recorder.findings),
        )


async def _all(works: list[Coroutine[Any, Any, None]]) -> None:
    """Run the works at once; the first to fail cancels the others and is raised (as itself:
    the engine tells an infrastructure error from a cancelled run by its type)."""
    tasks = [asyncio.ensure_future(w) for w in works]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _enough_fresh_resources(ctx: RunContext, scenarios: list[Scenario]) -> None:
    """Each multi-step scenario plays on its own fresh resource (call) of every owner: reusing
    one would act on a call an earlier scenario ended, and the app would rightly refuse."""
    profile = ctx.adapter.profile
    playing = [
        s
        for s in scenarios
        if len(s.phases) > 1 and not missing_flows(ctx.adapter.has_flow, s.phases)
    ]
    kinds = {
        spec.resource
        for s in playing
        for phase in s.phases
        if (spec := profile.flows.get(phase.split(":", 1)[0])) is not None
        and spec.resource is not None
    }
    for kind in sorted(kinds):
        owners = {r.owner for r in ctx.world.resources if r.kind == kind}
        have = min((len(ctx.world.resources_of(o, kind)) for o in owners), default=0)
        if have < len(playing):
            raise UsageError(
                f"{len(playing)} switch scenarios each need a fresh {kind} per owner, "
                f"but owners have {have}",
                f"seed at least {len(playing)} per owner (--population {kind}={len(playing)}, "
                f"or the profile's resources.{kind}.count), or run fewer with --scenario",
            )


def _creates(ctx: RunContext, phase: str) -> bool:
    spec = ctx.adapter.profile.flows.get(phase)
    return spec is not None and spec.creates is not None


def _notifications_arrived(ctx: RunContext, created: bool, notified: int) -> None:
    """A profile that says notifications arrive at the sinks must see some arrive once flows
    created things: otherwise staging is not wired to the sinks and nothing was checked."""
    if ctx.sinks is None or ctx.adapter.profile.notifications is None or not created:
        return
    if notified == 0:
        raise NoEffect(
            "scenario had no effect on notifications: no e-mail or SMS reached the sinks at "
            f"{ctx.sinks.smtp_address} (SMTP) and {ctx.sinks.sms_url}",
            "configure staging to send there (--listen sets the address), or drop "
            "`notifications:` from the profile",
        )


def _not_applicable(scenario: Scenario, missing: list[str]) -> CaseFinished:
    reason = f"not applicable: the profile has no flow {', '.join(missing)}"
    return CaseFinished("switch", scenario.name, Verdict.PASS, 0.0, reason, skipped=reason)


async def _play(play: Play, scenario: Scenario, took: dict[str, float]) -> None:
    t0 = time.time()
    try:
        await play.open_media()
        for phase in scenario.phases:
            await play.run_phase(phase)
    finally:
        await play.close_media()
        await play.collect(notifications=True)
        took[play.name] = time.time() - t0
