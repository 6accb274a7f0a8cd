"""The `stateful` suite: a Hypothesis state machine over users and the profile's flows.

Hypothesis picks sequences of flows (join, switch_to_video, leave, end ... whatever the profile
offers) across two owners, and looks by any user; the invariant is the oracle ("nobody received
anything they may not see"), checked on every user's lists after each change. When it fails,
Hypothesis shrinks the sequence for up to `--shrink-seconds` (0: the first failure stands, as
the selftest asks only whether a fault is caught); the last failing run is the minimal
reproduction, or the shortest found when time ran out, saved as `stateful-repro.json` /
`stateful-repro.txt` and reported.

Flows declare the states of their resource they apply in (`from`) and leave it in (`to`); a
rule asks for a flow, and the machine does the nearest meaningful thing (join before a switch)
so few generated steps are wasted. A flow answering one of its `conflict` statuses is a no-op.
Hypothesis's seed comes from `--seed`, so each seed explores other paths; the number of
distinct paths explored is reported. Each example starts from a freshly reset target.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import queue
import random
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from harness.adapters import Session
from harness.cancel import CancelScope
from harness.errors import InfrastructureError, NoEffect
from harness.events import (
    CaseFinished,
    Event,
    FindingRaised,
    StepFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Finding, Observation, Step, Verdict
from harness.oracles import Judge
from harness.population import Counts, make_population
from harness.profile.model import FlowSpec
from harness.suites import RunContext
from harness.world import Resource, World
from scenarios.controls import Witness

# Two owners are all the incident needed; fewer actors also make Hypothesis's search denser.
OWNERS = 2
OBSERVERS = 1
MAX_STEPS = 12
STOP_WAIT_SECONDS = 90.0  # an example's step (a seeding: 60 s at most) ends before it stops
COUNTS = Counts(owners=OWNERS, observers=OBSERVERS, per_owner=1, heavy=0)


class _StopExploring(BaseException):
    """Ends the exploration: the suite was cancelled, or shrinking's time box ran out.

    Hypothesis lets a BaseException that is not an Exception through untouched; anything else
    raised in a rule would be taken for a failing (or flaky) example. `_explore` looks at the
    suite's cancel scope to say which of the two it was."""


@dataclass
class _Outcome:
    """What the runs left behind: the shortest failing run seen (shrinking makes it minimal)."""

    examples: int = 0
    failure: tuple[tuple[Step, ...], list[Finding]] | None = None
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    shrink_deadline: float | None = None  # set when the first failure is found
    flaky: bool = False  # the failure did not reproduce on every replay (timing-dependent)
    cut_short: bool = False  # shrinking's time box ran out: the failure may not be minimal
    paths: set[tuple[Step, ...]] = field(default_factory=set)
    requests: int = 0
    blind_looks: list[str] = field(default_factory=list)  # owners who saw none of their data
    # The suite's own cancel scope, kept here: the explorer thread may outlive the engine's
    # turn with this suite (ctx.cancel is the next suite's by then).
    cancel: CancelScope = field(default_factory=CancelScope)
    closed: threading.Event = field(default_factory=threading.Event)  # the suite was closed

    def stopping(self) -> bool:
        return self.cancel.is_set() or self.closed.is_set()

    def failed(self, steps: tuple[Step, ...], found: list[Finding], budget: float) -> None:
        if self.failure is None or len(steps) <= len(self.failure[0]):
            self.failure = (steps, found)
        if self.shrink_deadline is None:
            self.shrink_deadline = time.monotonic() + budget


def _flows(ctx: RunContext) -> list[str]:
    """Flows on a resource the owners hold: the ones a state machine can sequence."""
    return sorted(n for n, f in ctx.adapter.profile.flows.items() if f.resource is not None)


def _machine(ctx: RunContext, outcome: _Outcome) -> type[RuleBasedStateMachine]:
    flows = _flows(ctx)
    profile = ctx.adapter.profile

    class FlowMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            late = outcome.shrink_deadline and time.monotonic() > outcome.shrink_deadline
            if late or outcome.stopping():  # never reset the target for a new example then
                outcome.cut_short = outcome.cut_short or bool(late)
                raise _StopExploring
            outcome.examples += 1
            population = make_population(profile, ctx.options.seed, COUNTS)
            self.world: World = ctx.loop.run(ctx.adapter.seed(population), timeout=60)
            self.judge = Judge.from_world(self.world, listing=ctx.adapter.listing)
            self.witness = Witness(self.world)
            owners = {r.owner for r in self.world.resources}
            self.owners = [a.id for a in self.world.actors.values() if a.id in owners]
            self.sessions: dict[str, Session] = {}
            self.states: dict[str, str] = {
                r.key: profile.resources[r.kind].initial_state for r in self.world.resources
            }
            self.steps: list[Step] = []
            self.found: list[Finding] = []
            self.changed = False  # a flow changed something since the last check of lists

        def teardown(self) -> None:
            outcome.paths.add(tuple(self.steps))

        def _session(self, actor: str) -> Session:
            if actor not in self.sessions:
                login = ctx.adapter.login(self.world.actors[actor])
                self.sessions[actor] = ctx.loop.run(login, timeout=30)
            return self.sessions[actor]

        def _observe(self, obs: Observation) -> None:
            outcome.requests += 1
            outcome.events.put(StepFinished("stateful", obs.step, obs.actor, obs.status, obs.time))
            self.found += self.judge(obs)

        def _run(self, owner: str, name: str, resource: Resource) -> None:
            self.steps.append(Step(owner, name, "0"))
            run = ctx.adapter.flow(self._session(owner), name, resource, f"stateful/{owner}/{name}")
            result = ctx.loop.run(run, timeout=30)
            for obs in result.observations:
                self._observe(obs)
            if result.ok:
                spec = profile.flows[name]
                if spec.to_state is not None:
                    self.states[resource.key] = spec.to_state
                self.changed = True
            elif not result.conflict:
                obs = result.last
                raise InfrastructureError(
                    f"flow {name} as {owner} answered {obs.status} ({obs.method} "
                    f"{obs.url.split('?', 1)[0]})",
                    "make sure the feature flag is on in staging and the profile's flows match",
                )

        @rule(p=st.integers(0, OWNERS - 1), name=st.sampled_from(flows or ["none"]))
        def act(self, p: int, name: str) -> None:
            if name not in profile.flows or not self.owners:
                return
            owner = self.owners[p % len(self.owners)]
            spec = profile.flows[name]
            mine = self.world.resources_of(owner, spec.resource)
            if not mine:
                return
            resource = mine[0]
            state = self.states[resource.key]
            if not _applies(spec, state):
                # The nearest meaningful thing: a flow from here into a state `name` applies in.
                bridge = _bridge(profile.flows, state, spec)
                if bridge is None:
                    return
                self._run(owner, bridge, resource)
                if not _applies(spec, self.states[resource.key]):
                    return
            self._run(owner, name, resource)

        @rule(who=st.integers(0, OWNERS + OBSERVERS - 1))
        def look(self, who: int) -> None:
            actor = list(self.world.actors)[who % len(self.world.actors)]
            self.steps.append(Step(actor, "look"))
            surfaces = ctx.adapter.look(self._session(actor), f"stateful/{actor}/look")
            seen = ctx.loop.run(surfaces, timeout=60)
            for obs in seen:
                self._observe(obs)
            if self.witness.expects(actor) and not self.witness.saw(seen):
                outcome.blind_looks.append(f"{actor} saw none of their own data in a look")

        @invariant()
        def nobody_sees_what_they_may_not(self) -> None:
            if outcome.stopping():
                raise _StopExploring
            if self.changed:
                self.changed = False
                self._check_lists()
            if self.found:
                outcome.failed(tuple(self.steps), list(self.found), ctx.options.shrink_seconds)
                raise AssertionError(f"{len(self.found)} finding(s) after {len(self.steps)} steps")

        def _check_lists(self) -> None:
            """After every change, every user's lists (where the incident showed) are read.

            The users read side by side (one at a time, each waited on the other's round
            trips); their reads are judged in the users' order, as one after another would."""
            actors = list(self.world.actors)
            sessions = [self._session(actor) for actor in actors]
            looks = [
                ctx.adapter.look(session, f"stateful/{actor}/lists", lists_only=True)
                for actor, session in zip(actors, sessions, strict=True)
            ]
            seen = ctx.loop.run(_together(looks), timeout=30)
            for actor, observations in zip(actors, seen, strict=True):
                before = len(self.found)
                for obs in observations:
                    self._observe(obs)
                if len(self.found) > before:
                    # The reproduction ends with the observer looking, so replay knows whom.
                    self.steps.append(Step(actor, "look"))
                    return

    return FlowMachine


async def _together(
    looks: list[Coroutine[Any, Any, list[Observation]]],
) -> list[list[Observation]]:
    """Every look's observations, in the looks' order; the first failure stops the others."""
    tasks = [asyncio.ensure_future(look) for look in looks]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()


def _applies(spec: FlowSpec, state: str) -> bool:
    return not spec.from_states or state in spec.from_states


def _bridge(flows: dict[str, FlowSpec], state: str, wanted: FlowSpec) -> str | None:
    """A flow that applies in `state` and leaves the resource where `wanted` applies."""
    for name, spec in sorted(flows.items()):
        lands = spec.to_state
        useful = lands is not None and lands != state and _applies(wanted, lands)
        if spec.resource == wanted.resource and _applies(spec, state) and useful:
            return name
    return None


def hypothesis_seed(run_seed: int) -> int:
    """Each `--seed` explores its own paths; the same seed explores the same ones."""
    return random.Random(f"chaperone-stateful-{run_seed}").getrandbits(64)


def run_stateful(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `stateful` suite."""
    started = time.time()
    yield SuiteStarted("stateful", total_steps=None, time=started)
    outcome = _Outcome(cancel=ctx.cancel)
    errors: list[BaseException] = []
    # In a copy of this thread's context, so the reads it makes count under this suite.
    explore = contextvars.copy_context().run
    worker = threading.Thread(target=explore, args=(_explore, ctx, outcome, errors), daemon=True)
    worker.start()
    try:
        while worker.is_alive() or not outcome.events.empty():
            try:
                yield outcome.events.get(timeout=0.2)
            except queue.Empty:
                continue
    finally:
        # Closed early (cancelled): the explorer stops at its next step and must be gone before
        # the next suite seeds, since its examples reset the target.
        outcome.closed.set()
        worker.join(timeout=STOP_WAIT_SECONDS)
    if errors:
        raise errors[0]
    leaked = outcome.failure is not None and any(f.is_leak for f in outcome.failure[1])
    if outcome.blind_looks and not leaked:
        raise NoEffect(
            f"scenario had no effect: {outcome.blind_looks[0]} "
            f"({len(outcome.blind_looks)} such look(s))",
            "check the target is the app the profile describes and that its reads return the "
            "user's own data",
        )
    # The examples reset the target: the engine puts the run's world back before a later
    # suite needs it (a suite that reseeds anyway, or none at all, costs no extra seeding).
    ctx.target_reset()
    yield from _conclude(ctx, outcome, started)


def _explore(ctx: RunContext, outcome: _Outcome, errors: list[BaseException]) -> None:
    config = settings(
        max_examples=ctx.options.stateful_examples,
        stateful_step_count=MAX_STEPS,
        deadline=None,
        database=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
    )
    machine = seed(hypothesis_seed(ctx.options.seed))(_machine(ctx, outcome))
    try:
        run_state_machine_as_test(machine, settings=config)
    except AssertionError:
        return  # the failure (the shortest one found) is in outcome.failure
    except Flaky:
        cancelled = outcome.cancel.error()
        if cancelled is not None:
            # The deadline (or Ctrl-C) stopped an example that Hypothesis then replayed past
            # it: the stop, not a flaky leak (seen once in CI as "could not record").
            errors.append(cancelled)
            return
        # A timing-dependent leak (a short-lived cache, a race) that did not fail on every
        # replay. It still happened: the recorded failure stands; without one, it is an error.
        outcome.flaky = True
        if outcome.failure is None:
            errors.append(
                InfrastructureError(
                    "the stateful suite saw a failure it could not record",
                    "re-run with another --seed",
                )
            )
    except _StopExploring:
        cancelled = outcome.cancel.error()
        if cancelled is not None:
            errors.append(cancelled)
        # Otherwise shrinking's time box ran out; the shortest failure so far stands.
    except BaseException as exc:  # handed to the suite's thread, which fails closed
        errors.append(exc)


def _conclude(ctx: RunContext, outcome: _Outcome, started: float) -> Iterator[Event]:
    metrics: dict[str, object] = {
        "examples": outcome.examples,
        "paths": len(outcome.paths),
        "requests": outcome.requests,
        "hypothesis_seed": hypothesis_seed(ctx.options.seed),
    }
    artifacts: tuple[str, ...] = ()
    findings: list[Finding] = []
    if outcome.failure is not None:
        steps, found = outcome.failure
        findings = [replace(f, suite="stateful", repro=steps) for f in found]
        population = make_population(ctx.adapter.profile, ctx.options.seed, COUNTS)
        involved = {s.actor for s in steps} & {r.owner for r in population.resources}
        metrics |= {"shrink_steps": len(steps), "shrink_owners": len(involved)}
        artifacts = _save_repro(ctx, steps, findings)
        for finding in findings:
            yield FindingRaised("stateful", finding)
    verdict = Verdict.FAIL if findings else Verdict.PASS
    message = (
        _describe(outcome)
        if findings
        else f"{outcome.examples} examples, {len(outcome.paths)} distinct paths, no finding"
    )
    yield CaseFinished(
        "stateful",
        "flow-state-machine",
        verdict,
        time.time() - started,
        message=message,
        finding_keys=tuple(f.key for f in findings),
    )
    yield SuiteFinished(
        "stateful",
        verdict,
        time.time() - started,
        time.time(),
        message=message,
        metrics=metrics,
        artifacts=artifacts,
    )


def _describe(outcome: _Outcome) -> str:
    assert outcome.failure is not None
    steps = outcome.failure[0]
    minimal = not (outcome.flaky or outcome.cut_short)
    shortest = "minimal reproduction" if minimal else "shortest reproduction found"
    lines = [f"{shortest} ({len(steps)} steps):"]
    lines += [f"  {i + 1}. {format_step(s)}" for i, s in enumerate(steps)]
    return "\n".join(lines)


def format_step(step: Step) -> str:
    return f"{step.actor} {step.action} {step.arg}".rstrip()


def _save_repro(ctx: RunContext, steps: tuple[Step, ...], found: list[Finding]) -> tuple[str, ...]:
    data = {
        "seed": ctx.options.seed,
        "counts": {"owners": COUNTS.owners, "observers": COUNTS.observers},
        "steps": [{"actor": s.actor, "action": s.action, "arg": s.arg} for s in steps],
        "findings": [{"kind": f.kind, "owner": f.owner, "observer": f.observer} for f in found],
    }
    json_path = ctx.out_dir / "stateful-repro.json"
    json_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    text_path = ctx.out_dir / "stateful-repro.txt"
    text_path.write_text("\n".join(format_step(s) for s in steps) + "\n", encoding="utf-8")
    return (str(json_path), str(text_path))
