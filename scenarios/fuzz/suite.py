"""The `fuzz` suite: Schemathesis generates the traffic, the Judge rules on every response.

    warm-up (only when no earlier suite left reads): the first scenario the profile supports,
            then everyone looks, so that owned data exists and its ids are known
    plan    the profile's OpenAPI document, minus unsafe, own and excluded-method operations
    values  planted data and ids seen become the operations' examples
    run     Schemathesis's phases: the examples phase once, each case drawn once and sent
            by every actor (anonymous too), so everyone sends every example; then coverage,
            fuzzing and stateful once, each case sent as the next actor in turn
    judge   every response, as the actor whose credentials it carried: bodies, headers,
            errors, media ranges, list pages; it joins the journal, so the access suite
            repeats its reads as everyone else
    report  one case per operation (or why it was never sent), one per contract check

A leak is a finding with the curl command that reproduced it. Schemathesis's own check
failures are a separate, non-leak category (see scenarios.fuzz.contract). The suite is
bounded by `fuzz_examples` per operation and phase and by `fuzz_seconds` in all.

The suite changes state (it sends the POSTs the document offers: joining and ending calls,
minting tokens): run it after the suites that need fresh calls, and before `access`.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.engine import events as st

from harness.adapters.capabilities import DISCOVERY, NOTIFY
from harness.errors import InfrastructureError, NoEffect
from harness.events import (
    CaseFinished,
    Event,
    FindingRaised,
    StepFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.matcher import CanaryMatcher
from harness.models import (
    ANONYMOUS,
    ANONYMOUS_ID,
    Actor,
    Finding,
    Observation,
    Step,
    Verdict,
)
from harness.oracles import Judge
from harness.sinks import observations_of
from harness.suites import RunContext
from scenarios.controls import Witness
from scenarios.fuzz.bodies import OwnBodies
from scenarios.fuzz.contract import Contract, ContractFailure
from scenarios.fuzz.document import Plan, load_document, not_applicable, plan_operations
from scenarios.fuzz.examples import inject_examples, value_pool
from scenarios.fuzz.runner import CONTRACT_CHECKS, Rotation, Runner, Sessions
from scenarios.fuzz.traffic import Credentials, echoed, observation_of, scrub, sent_canaries
from scenarios.play import Play, Recorder, drain, missing_flows
from scenarios.switch import scenarios_for

__all__ = ["run_fuzz"]

SUITE = "fuzz"
SAFE = frozenset({"GET", "HEAD"})
# Oracles whose findings on generated input are contract defects, not leaks: a 5xx to a
# malformed request is Schemathesis's not_a_server_error, reported with the contract.
NOT_LEAKS = frozenset({"server-error"})


def run_fuzz(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `fuzz` suite."""
    started = time.time()
    yield SuiteStarted(SUITE, total_steps=None, time=started)
    reason = not_applicable(ctx.adapter.profile)
    if reason is not None:
        yield CaseFinished(SUITE, "openapi document", Verdict.PASS, 0.0, reason, skipped=reason)
        yield SuiteFinished(SUITE, Verdict.ERROR, 0.0, time.time(), message=reason)
        return
    if not any(o.read for o in ctx.journal):
        # The warm-up will play a scenario's flows. Like load and browser, it needs calls no
        # suite has used: after them a call has ended, and `join` answers 409. The fuzzer's
        # matcher is built from the world, so this comes first (free when nothing used it).
        ctx.reseed()
    yield from Fuzz(ctx, started).run()


@dataclass
class Tally:
    """What one operation got: requests, from whom, in which phases, and what was found."""

    requests: int = 0
    actors: set[str] = field(default_factory=set)
    phases: set[str] = field(default_factory=set)
    findings: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class Fuzz:
    def __init__(self, ctx: RunContext, started: float) -> None:
        self.ctx = ctx
        self.started = started
        self.deadline = started + ctx.options.fuzz_seconds
        self.matcher = _matcher(ctx)
        self.bodies = OwnBodies(self.matcher, ctx.world.ownership.canaries, _addresses(ctx))
        self.witness = Witness(ctx.world)
        self.credentials = Credentials(ctx.adapter.profile.auth.apply_headers)
        self.contract = Contract()
        self.findings: list[Finding] = []
        self.repros: dict[str, tuple[Step, ...]] = {}
        self.tallies: dict[str, Tally] = {}
        self.phases: dict[str, str] = {}
        self.by_phase: Counter[str] = Counter()
        self.warm_steps: tuple[Step, ...] = ()
        self.seen_cases: set[str] = set()
        self.owners_seen: set[str] = set()  # actors who received some of their own data
        self.errors: list[str] = []  # Schemathesis's errors not tied to one operation
        self.warm_findings: list[Finding] = []
        self.traffic_keys: set[str] = set()  # leaks raised on Schemathesis's traffic
        self.base = ""
        self.sessions: Sessions | None = None
        self.notified = 0  # notifications the generated traffic caused, judged
        self.passes_done = 0  # Schemathesis passes that ran to their end
        self.examples_sent: set[tuple[str, str]] = set()  # (operation, actor) of the examples

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> Iterator[Event]:
        ctx = self.ctx
        yield from self._warm_up()
        spec = ctx.adapter.profile.discover
        assert spec is not None  # not_applicable() said so
        discovery = ctx.capability(DISCOVERY)
        profile_dir = discovery.profile_dir if discovery is not None else Path(".")
        document = load_document(spec.openapi, ctx.target, profile_dir)
        plan = plan_operations(document, ctx.adapter.profile, ctx.options.fuzz_methods)
        self.base = plan.base_path
        self.tallies = {route: Tally() for route in plan.kept}
        pool = value_pool(ctx.world, ctx.journal, ctx.adapter.listing)
        injected = inject_examples(plan.document, pool, self.matcher)
        actors = _actors(ctx)
        self.sessions = Sessions(
            lambda actor: ctx.loop.run(ctx.adapter.login(actor), timeout=60),
            self.credentials,
            ctx.adapter.profile.auth.relogin.every_seconds,
        )
        self.sessions.start(actors)
        fuzzing, stopped = time.time(), ""
        passes = _passes(ctx.options.fuzz_phases, actors)
        for phases, who in passes:
            if time.time() >= self.deadline:
                stopped = "time limit"
                break
            rotation = (
                # the examples phase draws each case once; its first actor sends it, then
                # every other actor sends it again (Runner._send_again)
                Rotation(who[:1], self.sessions, self.bodies, fan_out=who[1:])
                if phases == ("examples",)
                else Rotation(who, self.sessions, self.bodies)
            )
            runner = Runner(plan, ctx.options, ctx.target, rotation, phases)
            for event in runner.events(self.deadline, ctx.cancel):
                yield from self._judge_sent(runner)
                yield from self._engine_event(event)
            yield from self._judge_sent(runner)
            ctx.cancel.raise_if_cancelled()
            if runner.stopped:
                stopped = runner.stopped
                break
            self.passes_done += 1
        self._unsent_examples(plan, passes[self.passes_done :], actors)
        yield from self._notifications()
        yield from self._finish(plan, stopped, injected, time.time() - fuzzing, len(passes))

    def _unsent_examples(self, plan: Plan, cut: Sequence[Pass], actors: Sequence[Actor]) -> None:
        """An examples pass the time limit cut is lost coverage: each actor sends every
        planted example (another owner's ids among them), so every (operation, actor) it
        left unsent is unasked. Counted, never clean: on a loaded machine the suite once
        stopped a third of the way through its examples and the gate still passed."""
        if not any(phases == ("examples",) for phases, _ in cut):
            return  # the generative phases explore; their budget is fuzz_examples
        coverage = self.ctx.adapter.coverage
        for route in plan.kept:
            for actor in actors:
                if (route, actor.id) not in self.examples_sent:
                    coverage.lost(route, actor.id, actor.id, "fuzz time limit: examples not sent")

    def _warm_up(self) -> Iterator[Event]:
        """Owned data for the requests to reach, when no earlier suite made any."""
        ctx = self.ctx
        if any(o.read for o in ctx.journal):
            return
        scenarios = scenarios_for(ctx)
        warm = next(
            (s for s in scenarios if not missing_flows(ctx.adapter.has_flow, s.phases)), None
        )
        if warm is None:
            return
        recorder = Recorder(SUITE, ctx)
        play = Play(ctx, recorder, f"warm-up/{warm.name}", slot=len(scenarios))

        async def phases() -> None:
            for phase in (*warm.phases, *(() if "look" in warm.phases else ("look",))):
                await play.run_phase(phase)

        async def events() -> AsyncIterator[Event]:
            async for event in drain(phases(), recorder):
                yield event

        yield from ctx.loop.stream(events(), ctx.cancel)
        self.findings += recorder.findings
        self.warm_findings = list(recorder.findings)
        self.warm_steps = tuple(play.steps)

    def _notifications(self) -> Iterator[Event]:
        """What the generated writes sent (a call ended mails "recording ready"), judged while
        this world stands: the next seeding forgets what the sinks hold (harness.engine)."""
        ctx = self.ctx
        sinks, notify = ctx.sinks, ctx.capability(NOTIFY)
        if sinks is None or notify is None:
            return
        ctx.loop.run(notify.flush_notifications(), timeout=60)
        for obs in observations_of(sinks.drain(), notify.recipients(), f"{SUITE}/traffic"):
            ctx.journal.append(obs)
            self.notified += 1
            yield StepFinished(SUITE, obs.step, obs.actor, obs.status, obs.time)
            for finding in ctx.judge(obs):
                repro = (*self.warm_steps, Step(obs.actor, "notification", obs.url))
                finding = replace(finding, suite=SUITE, repro=repro)
                self.traffic_keys.add(finding.key)
                self.findings.append(finding)
                yield FindingRaised(SUITE, finding)

    # -- Schemathesis's events ----------------------------------------------------------------

    def _engine_event(self, event: Any) -> Iterator[Event]:
        if isinstance(event, st.ScenarioFinished):
            yield from self._scenario(event.recorder)
        elif isinstance(event, st.NonFatalError):
            note = f"{event.info.title}: {event.info.message}".strip(": ")[:300]
            route = self._route_of_label(event.label)
            if route in self.tallies:
                self.tallies[route].errors.append(note)
            else:
                self.errors.append(f"{event.label}: {note}")
        elif isinstance(event, st.PhaseFinished):
            yield from self._probes(event.payload)
            skipped = event.phase.skip_reason
            status = str(event.status.value)
            self.phases[str(event.phase.name.value)] = (
                f"{status} ({skipped.value})" if skipped is not None else status
            )
        elif isinstance(event, st.FatalError):
            raise InfrastructureError(
                f"Schemathesis stopped: {type(event.exception).__name__}: {event.exception}",
                "check the target's OpenAPI document",
            )

    def _probes(self, payload: Any) -> Iterator[Event]:
        """Schemathesis's capability probes (a NUL byte in a header, an odd path) are sent
        before any case, outside its hooks; their answers are judged like the rest."""
        if not isinstance(payload, Ok):
            return
        for probe in getattr(payload.ok(), "probes", ()):
            if probe.response is None:
                continue
            received = Response.from_requests(probe.response, verify=True)
            path = urlsplit(str(received.request.url)).path
            endpoint = f"{str(received.request.method).upper()} {path}"
            yield from self._exchange(None, received, time.time(), endpoint)

    def _scenario(self, recorder: Any) -> Iterator[Event]:
        """Requests Schemathesis made around its hooks (a check's control request), then the
        contract check failures of this scenario."""
        for case_id, interaction in list(recorder.interactions.items()):
            if case_id in self.seen_cases or interaction.response is None:
                continue
            node = recorder.cases.get(case_id)
            if node is not None:
                yield from self._exchange(node.value, interaction.response, time.time())
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                yield from self._contract(recorder, case_id, check)

    def _contract(self, recorder: Any, case_id: str, check: Any) -> Iterator[Event]:
        node = recorder.cases.get(case_id)
        response = recorder.find_response(case_id=case_id)
        if node is None or response is None:
            return
        title = str(check.failure_info.failure.title)
        yield from self._add_contract(
            check.name, node.value, response, title, check.failure_info.code_sample
        )

    def _add_contract(
        self, check: str, case: Any, response: Any, title: str, curl: str
    ) -> Iterator[Event]:
        headers = {k: str(v) for k, v in dict(response.request.headers).items()}
        failure = ContractFailure(
            check=check,
            operation=self._route(case),
            title=title,
            actor=self.credentials.actor_of(headers),
            status=int(response.status_code),
            curl=scrub(curl, self.credentials.secrets(), self.matcher),
        )
        if self.contract.add(failure) and self.ctx.options.fuzz_contract_checks:
            finding = failure.finding(SUITE)
            self.findings.append(finding)
            yield FindingRaised(SUITE, finding)

    # -- judging ------------------------------------------------------------------------------

    def _judge_sent(self, runner: Runner) -> Iterator[Event]:
        for sent in runner.drain():
            self.seen_cases.add(sent.case.id)
            yield from self._exchange(sent.case, sent.response, sent.at)
            for failure in sent.failures:
                yield from self._failed(sent.case, sent.response, failure)

    def _failed(self, case: Any, response: Any, failure: Any) -> Iterator[Event]:
        """A contract failure of a case sent again as another actor (checked by us, not by
        Schemathesis's engine, which sent it once)."""
        headers = {k: str(v) for k, v in dict(response.request.headers).items()}
        check = failure.checks[0] if failure.checks else type(failure).__name__
        curl = _curl(case, f"curl -X {case.method} '{response.request.url}'", headers)
        yield from self._add_contract(check, case, response, str(failure.title), curl)

    def _exchange(self, case: Any, response: Any, at: float, probe: str = "") -> Iterator[Event]:
        """Judge one response; `case` is None for a probe (then `probe` is its endpoint)."""
        ctx = self.ctx
        request_headers = {k: str(v) for k, v in dict(response.request.headers).items()}
        actor = self.credentials.actor_of(request_headers)
        method = str(response.request.method or "GET").upper()
        operation = self._route(case) if case is not None else probe
        phase = _phase(case) if case is not None else "probing"
        step = f"{SUITE}/{phase}/{actor}"
        endpoint = f"{method} {operation.split(' ', 1)[1]}"
        obs = replace(observation_of(actor, step, endpoint, response), time=at)
        carried = sent_canaries(obs, request_headers, self.matcher, self.credentials)
        if method in SAFE and not carried:
            obs = replace(obs, read=endpoint)
        ctx.journal.append(obs)
        found = [f for f in ctx.judge(obs) if f.check not in NOT_LEAKS and not echoed(f, carried)]
        tally = self.tallies.get(operation, Tally()) if case is not None else Tally()
        if case is not None:
            self.tallies[operation] = tally
        tally.requests += 1
        tally.actors.add(actor)
        tally.phases.add(phase)
        if phase == "examples":
            self.examples_sent.add((operation, actor))
        self.by_phase[phase] += 1
        self._account(obs, actor, endpoint, case)
        yield StepFinished(SUITE, step, actor, obs.status, obs.time)
        for finding in found:
            finding = replace(finding, suite=SUITE, repro=self._repro(finding, case, obs))
            tally.findings.add(finding.key)
            self.traffic_keys.add(finding.key)
            self.findings.append(finding)
            yield FindingRaised(SUITE, finding)

    def _account(self, obs: Observation, actor: str, route: str, case: Any) -> None:
        """Coverage of valid reads, the positive control, and expired sessions."""
        if actor == ANONYMOUS_ID:
            return
        if self.witness.saw([obs]):
            self.owners_seen.add(actor)
        relogin = self.ctx.adapter.profile.auth.relogin.on_status
        if obs.status in relogin and self.sessions is not None:
            self.sessions.expired(actor)
        if obs.method not in SAFE or not _positive(case):
            return
        coverage = self.ctx.adapter.coverage
        if obs.status >= 500 and case is not None:
            # a generated input the server choked on: a contract finding (not_a_server_error),
            # never lost coverage, or the gate's verdict would hang on what Schemathesis drew
            return
        if obs.status >= 500:
            coverage.lost(route, actor, actor, f"HTTP {obs.status}")
        elif obs.status in relogin:
            coverage.lost(route, actor, actor, f"HTTP {obs.status}: credentials refused")
        else:
            coverage.checked(route, actor, actor)

    def _repro(self, finding: Finding, case: Any, obs: Observation) -> tuple[Step, ...]:
        if finding.key not in self.repros:
            curl = f"curl -X {obs.method} '{self.ctx.target.rstrip('/')}{obs.url}'"
            if case is not None:
                curl = _curl(case, curl)
            curl = scrub(curl, self.credentials.secrets(), self.matcher)
            self.repros[finding.key] = (*self.warm_steps, Step(obs.actor, "request", curl))
        return self.repros[finding.key]

    # -- the end ------------------------------------------------------------------------------

    def _finish(
        self, plan: Plan, stopped: str, injected: int, fuzz_seconds: float, passes: int
    ) -> Iterator[Event]:
        for skipped in plan.skipped:
            yield CaseFinished(
                SUITE, skipped.route, Verdict.PASS, 0.0, skipped.reason, skipped=skipped.reason
            )
        verdicts: list[Verdict] = []
        for route in plan.kept:
            case = self._operation_case(route, self.tallies.get(route, Tally()), stopped)
            verdicts.append(case.verdict)
            yield case
        if self.errors:  # part of the run did not happen: never a pass
            message = f"{len(self.errors)} error(s): {'; '.join(self.errors[:3])}"
            verdicts.append(Verdict.ERROR)
            yield CaseFinished(SUITE, "schemathesis", Verdict.ERROR, 0.0, message)
        required = self.ctx.options.fuzz_contract_checks
        for case in self.contract.cases(SUITE, CONTRACT_CHECKS, required):
            verdicts.append(case.verdict)
            yield case
        artifacts: tuple[str, ...] = ()
        if self.contract.failures:
            path = self.contract.write(self.ctx.out_dir / SUITE / "contract.json")
            artifacts = (str(path),)
        leaks = [f for f in self.findings if f.kind != "contract"]
        if not leaks and not self.owners_seen:
            if stopped:
                raise NoEffect(
                    f"fuzz traffic reached none of the owners' own data before it stopped "
                    f"({stopped})",
                    "raise fuzz_seconds (the warm-up counts in it) or lower fuzz_examples",
                )
            raise NoEffect(
                "fuzz traffic reached none of the owners' own data",
                "check the profile's auth and that the OpenAPI document describes this target",
            )
        verdicts.append(Verdict.FAIL if leaks else Verdict.PASS)
        verdict = Verdict.merge(*verdicts)
        seconds = time.time() - self.started
        requests = sum(t.requests for t in self.tallies.values())
        actors = {a for t in self.tallies.values() for a in t.actors}
        message = (
            f"{len(plan.kept)} operation(s), {requests} request(s) as {len(actors)} actor(s); "
            f"{len({f.key for f in leaks})} leak finding(s), "
            f"{len(self.contract.failures)} contract failure(s)"
            + (f"; stopped: {stopped}" if stopped else "")
        )
        yield SuiteFinished(
            SUITE,
            verdict,
            seconds,
            time.time(),
            message=message,
            metrics={
                "operations": len(plan.kept),
                "operations_skipped": len(plan.skipped),
                "requests": requests,
                # distinct leaks; one seen by both counts in both (the report keeps only the
                # first record of a leak, so it cannot tell which traffic found what)
                "leaks": len({f.key for f in leaks}),
                "leaks_from_schemathesis": len(self.traffic_keys),
                "leaks_from_warm_up": len({f.key for f in self.warm_findings}),
                "requests_by_phase": dict(self.by_phase),
                "actors": len(actors),
                "examples": self.ctx.options.fuzz_examples,
                "parameters_with_planted_examples": injected,
                "seconds": round(seconds, 2),
                "schemathesis_seconds": round(fuzz_seconds, 2),
                "contract_failures": len(self.contract.failures),
                "contract_failures_by_check": {
                    k: len(v) for k, v in self.contract.by_check().items()
                },
                "phases": dict(self.phases),
                "stopped": stopped or "completed",
                "relogins": self.sessions.relogins if self.sessions else 0,
                "foreign_canaries_swapped": self.bodies.swapped,
                "recipient_addresses_kept": self.bodies.addressed,
                "notifications_judged": self.notified,
                "passes": passes,
                "passes_done": self.passes_done,
                "passes_cut": passes - self.passes_done,
                "warm_up": bool(self.warm_steps),
                "schemathesis_errors": list(self.errors),
            },
            artifacts=artifacts,
        )

    def _operation_case(self, route: str, tally: Tally, stopped: str) -> CaseFinished:
        if tally.requests == 0:
            why = "; ".join(tally.errors[:2]) or (
                f"not reached: the run stopped ({stopped}); raise --fuzz-seconds or lower "
                "--fuzz-examples"
                if stopped
                else "Schemathesis sent no request for it"
            )
            return CaseFinished(SUITE, route, Verdict.ERROR, 0.0, why)
        verdict = Verdict.FAIL if tally.findings else Verdict.PASS
        message = (
            f"{tally.requests} request(s) as {len(tally.actors)} actor(s) in "
            f"{', '.join(sorted(tally.phases))}; {len(tally.findings)} finding(s)"
        )
        if tally.errors:
            message += f"; Schemathesis: {tally.errors[0]}"
        return CaseFinished(SUITE, route, verdict, 0.0, message, tuple(sorted(tally.findings)))

    # -- naming -------------------------------------------------------------------------------

    def _route(self, case: Any) -> str:
        operation = case.operation
        return f"{str(operation.method).upper()} {self.base}{operation.path}"

    def _route_of_label(self, label: str) -> str:
        method, _, path = label.partition(" ")
        return f"{method.upper()} {self.base}{path}" if path.startswith("/") else label


Pass = tuple[tuple[str, ...], tuple[Actor, ...]]  # Schemathesis phases, the actors in turn


def _passes(phases: Sequence[str], actors: Sequence[Actor]) -> list[Pass]:
    """The examples phase, each case sent by every actor in turn (drawn once, sent by the
    first, then again by the others), so that every actor sends every planted example and
    every operation at least once; then the generative phases once, each case as the next
    actor in turn (which also puts different actors on one URL moments apart)."""
    passes: list[Pass] = []
    if "examples" in phases:
        passes.append((("examples",), tuple(actors)))
    rest = tuple(p for p in phases if p != "examples")
    if rest:
        passes.append((rest, tuple(actors)))
    return passes


def _actors(ctx: RunContext) -> list[Actor]:
    """Every seeded actor and anonymous, in a stable order that takes the roles in turn."""
    return turns_by_role(a for a in ctx.world.actors.values() if not a.is_anonymous)


def turns_by_role(seeded: Iterable[Actor]) -> list[Actor]:
    """One actor of each role (the most numerous role first), then anonymous, then the next
    of each role, and so on. Each example goes out in this order (the first of them sends it
    through Schemathesis's engine): sorted by id, with one examples pass per actor, a loaded
    machine once spent the whole budget on the four clinicians, who own nothing, and the
    suite ended with no owner having seen their own data (an error)."""
    by_role: dict[str, list[Actor]] = {}
    for actor in sorted(seeded, key=lambda a: (len(a.id), a.id)):
        by_role.setdefault(actor.role, []).append(actor)
    roles = sorted(by_role.values(), key=lambda group: (-len(group), group[0].role))
    order: list[Actor] = []
    for i in range(max((len(g) for g in roles), default=0)):
        order += [group[i] for group in roles if i < len(group)]
        if i == 0:
            order.append(ANONYMOUS)
    return order or [ANONYMOUS]


def _matcher(ctx: RunContext) -> CanaryMatcher:
    """The run's judge's matcher when it was built for this world: compiling the Hyperscan
    database of a world's canaries again takes most of a CPU second."""
    judge = ctx.judge
    if isinstance(judge, Judge) and judge.ctx.world is ctx.world:
        return judge.ctx.matcher
    return CanaryMatcher(ctx.world.ownership.canaries)


def _addresses(ctx: RunContext) -> dict[str, dict[str, str]]:
    """Each actor's own notification addresses, by the field the profile names them with."""
    spec = ctx.adapter.profile.notifications
    if spec is None:
        return {}
    fields = [rule.recipient for rule in (spec.mail, spec.sms) if rule is not None]
    return {
        actor.id: {name: str(actor.vars[name]) for name in fields if name in actor.vars}
        for actor in ctx.world.actors.values()
    }


def _curl(case: Any, fallback: str, headers: dict[str, str] | None = None) -> str:
    """Schemathesis's curl command for `case` (with `headers`), or `fallback` for a case it
    cannot render."""
    with contextlib.suppress(Exception):
        return str(case.as_curl_command(headers=headers))
    return fallback


def _phase(case: Any) -> str:
    meta = getattr(case, "meta", None)
    if meta is None:
        return "other"
    name = meta.phase.name
    return str(getattr(name, "value", name))


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or bool(meta.generation.mode.is_positive)
