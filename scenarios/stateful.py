"""The `stateful` suite: a Hypothesis state machine over actors and calls.

Hypothesis picks sequences of join / switch / leave / rejoin / end / look across a few patients
and a clinician; the invariant is the oracle ("nobody received anything they may not see").
When it fails, Hypothesis shrinks the sequence; the last run it makes is the minimal
reproduction, which is saved (`stateful-repro.json`, `stateful-repro.txt`) and reported.

Each example starts from a freshly reset and seeded target, so examples are independent.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from harness.adapters import Session
from harness.errors import InfrastructureError
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
from harness.population import make_population
from harness.suites import RunContext
from harness.world import World

# Two patients are all the incident needed; fewer actors also make Hypothesis's search denser.
PATIENTS = 2
CLINICIANS = 1
MAX_STEPS = 12
# Shrinking stops after this long; on a 2-core machine it usually reaches the minimum sooner.
SHRINK_SECONDS = 30.0


@dataclass
class _Outcome:
    """What the runs left behind: the shortest failing run seen (shrinking makes it minimal)."""

    examples: int = 0
    failure: tuple[tuple[Step, ...], list[Finding]] | None = None
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    shrink_deadline: float | None = None  # set when the first failure is found
    flaky: bool = False  # the failure did not reproduce on every replay (timing-dependent)

    def failed(self, steps: tuple[Step, ...], found: list[Finding], budget: float) -> None:
        if self.failure is None or len(steps) <= len(self.failure[0]):
            self.failure = (steps, found)
        if self.shrink_deadline is None:
            self.shrink_deadline = time.monotonic() + budget


@dataclass
class _Call:
    status: str = "scheduled"  # scheduled, active, ended
    mode: str = "audio"
    present: bool = False


def _machine(ctx: RunContext, outcome: _Outcome) -> type[RuleBasedStateMachine]:
    patients = st.integers(0, PATIENTS - 1)

    class CallMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            if outcome.shrink_deadline and time.monotonic() > outcome.shrink_deadline:
                # The one exception Hypothesis lets through untouched; anything else would
                # look like a flaky example. _explore tells it apart from a real cancel.
                raise KeyboardInterrupt
            outcome.examples += 1
            population = make_population(ctx.options.seed, PATIENTS, CLINICIANS, 1)
            self.world: World = ctx.loop.run(ctx.adapter.seed(population), timeout=60)
            self.judge = Judge.from_world(self.world, listing=ctx.adapter.listing)
            self.names = [a.id for a in self.world.patients]
            self.sessions: dict[str, Session] = {}
            self.calls = {name: _Call() for name in self.names}
            self.steps: list[Step] = []
            self.found: list[Finding] = []
            self.changed = False  # a call changed since the last check of everyone's lists

        def _session(self, actor: str) -> Session:
            if actor not in self.sessions:
                login = ctx.adapter.login(self.world.actors[actor])
                self.sessions[actor] = ctx.loop.run(login, timeout=30)
            return self.sessions[actor]

        def _observe(self, obs: Observation) -> None:
            outcome.events.put(StepFinished("stateful", obs.step, obs.actor, obs.status, obs.time))
            self.found += self.judge(obs)

        def _act(self, index: int, action: str, arg: str = "") -> None:
            name = self.names[index]
            self.steps.append(Step(name, action, f"{arg}:0" if arg else "0"))
            consultation = self.world.appointments_of(name)[0].consultation_id
            act = ctx.adapter.act(
                self._session(name), f"stateful/{name}/{action}", action, consultation, arg
            )
            self._observe(ctx.loop.run(act, timeout=30))
            self.changed = True

        # Rules do the nearest meaningful thing instead of nothing (switching while not in
        # the call joins first), so few generated steps are wasted and the search stays dense.
        def _ensure_joined(self, p: int) -> bool:
            call = self.calls[self.names[p]]
            if call.status == "ended":
                return False
            if not call.present:
                self._act(p, "join")
                call.status, call.present = "active", True
            return True

        @rule(p=patients)
        def join(self, p: int) -> None:
            self._ensure_joined(p)

        @rule(p=patients, mode=st.sampled_from(["video", "audio"]))
        def switch(self, p: int, mode: str) -> None:
            call = self.calls[self.names[p]]
            if self._ensure_joined(p):
                mode = mode if call.mode != mode else ("audio" if mode == "video" else "video")
                self._act(p, "switch", mode)
                call.mode = mode

        @rule(p=patients)
        def rejoin(self, p: int) -> None:
            call = self.calls[self.names[p]]
            if call.status == "active" and call.present:
                self._act(p, "leave")
                call.present = False
            self._ensure_joined(p)

        @rule(p=patients)
        def end(self, p: int) -> None:
            call = self.calls[self.names[p]]
            if call.status == "active" and call.present:
                self._act(p, "end")
                call.status, call.present = "ended", False

        @rule(who=st.integers(0, PATIENTS + CLINICIANS - 1))
        def look(self, who: int) -> None:
            actor = list(self.world.actors)[who]
            self.steps.append(Step(actor, "look"))
            surfaces = ctx.adapter.surfaces(self._session(actor), f"stateful/{actor}/look")
            for obs in ctx.loop.run(surfaces, timeout=60):
                self._observe(obs)

        @invariant()
        def nobody_sees_what_they_may_not(self) -> None:
            if ctx.cancel.is_set():
                raise KeyboardInterrupt
            if self.changed:
                self.changed = False
                self._check_lists()
            if self.found:
                outcome.failed(tuple(self.steps), list(self.found), SHRINK_SECONDS)
                raise AssertionError(f"{len(self.found)} finding(s) after {len(self.steps)} steps")

        def _check_lists(self) -> None:
            """After every change, every actor's lists (where the incident showed) are read."""
            for actor in self.world.actors:
                before = len(self.found)
                lists = ctx.adapter.lists(self._session(actor), f"stateful/{actor}/lists")
                for obs in ctx.loop.run(lists, timeout=30):
                    self._observe(obs)
                if len(self.found) > before:
                    # The reproduction ends with the observer looking, so replay knows whom.
                    self.steps.append(Step(actor, "look"))
                    return

    return CallMachine


def run_stateful(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `stateful` suite."""
    started = time.time()
    yield SuiteStarted("stateful", total_steps=None, time=started)
    outcome = _Outcome()
    errors: list[BaseException] = []
    worker = threading.Thread(target=_explore, args=(ctx, outcome, errors), daemon=True)
    worker.start()
    while worker.is_alive() or not outcome.events.empty():
        try:
            yield outcome.events.get(timeout=0.2)
        except queue.Empty:
            continue
    if errors:
        raise errors[0]
    # The examples reset the target; put the run's own world back for the suites after us.
    ctx.reseed()
    yield from _conclude(ctx, outcome, started)


def _explore(ctx: RunContext, outcome: _Outcome, errors: list[BaseException]) -> None:
    config = settings(
        max_examples=ctx.options.stateful_examples,
        stateful_step_count=MAX_STEPS,
        deadline=None,
        database=None,
        derandomize=True,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
    )
    try:
        run_state_machine_as_test(_machine(ctx, outcome), settings=config)
    except AssertionError:
        return  # the failure (the shortest one found) is in outcome.failure
    except Flaky:
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
    except KeyboardInterrupt:
        if outcome.failure is not None and not ctx.cancel.is_set():
            return  # shrinking's time box ran out; the shortest failure so far stands
        errors.append(KeyboardInterrupt())
    except BaseException as exc:  # handed to the suite's thread, which fails closed
        errors.append(exc)


def _conclude(ctx: RunContext, outcome: _Outcome, started: float) -> Iterator[Event]:
    metrics: dict[str, object] = {"examples": outcome.examples}
    artifacts: tuple[str, ...] = ()
    findings: list[Finding] = []
    if outcome.failure is not None:
        steps, found = outcome.failure
        findings = [replace(f, suite="stateful", repro=steps) for f in found]
        names = make_population(ctx.options.seed, PATIENTS, CLINICIANS, 1).patients
        patients = {s.actor for s in steps} & {p.username for p in names}
        metrics |= {"shrink_steps": len(steps), "shrink_patients": len(patients)}
        artifacts = _save_repro(ctx, steps, findings)
        for finding in findings:
            yield FindingRaised("stateful", finding)
    verdict = Verdict.FAIL if findings else Verdict.PASS
    message = _describe(outcome) if findings else f"{outcome.examples} examples, no finding"
    yield CaseFinished(
        "stateful",
        "call-state-machine",
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
    shortest = "shortest reproduction found" if outcome.flaky else "minimal reproduction"
    lines = [f"{shortest} ({len(steps)} steps):"]
    lines += [f"  {i + 1}. {format_step(s)}" for i, s in enumerate(steps)]
    return "\n".join(lines)


def format_step(step: Step) -> str:
    return f"{step.actor} {step.action} {step.arg}".rstrip()


def _save_repro(ctx: RunContext, steps: tuple[Step, ...], found: list[Finding]) -> tuple[str, ...]:
    data = {
        "seed": ctx.options.seed,
        "patients": PATIENTS,
        "clinicians": CLINICIANS,
        "steps": [{"actor": s.actor, "action": s.action, "arg": s.arg} for s in steps],
        "findings": [{"kind": f.kind, "owner": f.owner, "observer": f.observer} for f in found],
    }
    json_path = ctx.out_dir / "stateful-repro.json"
    json_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    text_path = ctx.out_dir / "stateful-repro.txt"
    text_path.write_text("\n".join(format_step(s) for s in steps) + "\n", encoding="utf-8")
    return (str(json_path), str(text_path))
