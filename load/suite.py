"""The load suite: many synthetic users at once, every response leak-checked, SLOs gated.

Registered as `load = "load.suite:run_load"` in the `chaperone.suites` entry-point group. The
verdict is fail on any leak finding or any breached SLO threshold; a run that could not happen
(no Locust, Locust crashed, target died) raises InfrastructureError after yielding the findings
gathered so far, and the engine reports it as an error.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from harness.config import RunOptions
from harness.events import CaseFinished, Event, FindingRaised, SuiteFinished, SuiteStarted
from harness.models import Finding, Verdict
from harness.suites import RunContext
from harness.world import World
from load import contract
from load.runner import Cancelled, LoadPlan, run_locust
from load.slo import evaluate
from load.stats import LoadStats

SUITE = "load"
LEAK_CASE = "leak check: every response seen by its rightful owner only"


def plan_for(target: str, options: RunOptions, world: World, check_leaks: bool = True) -> LoadPlan:
    """Half the users switch (at least two, so switches can collide), the rest browse."""
    users = options.load_users
    switchers = 0 if users < 2 else min(max(2, users // 2), users - 1, len(world.appointments))
    return LoadPlan(
        target=target,
        users=users,
        seconds=options.load_seconds,
        workers=options.workers,
        switch_users=switchers,
        check_leaks=check_leaks,
    )


def run_load(ctx: RunContext) -> Iterator[Event]:
    yield from run_load_plan(ctx, check_leaks=True)


def run_load_plan(ctx: RunContext, check_leaks: bool) -> Iterator[Event]:
    started = time.monotonic()
    yield SuiteStarted(SUITE, None, time.time())
    world = ctx.reseed()
    plan = plan_for(ctx.target, ctx.options, world, check_leaks)
    run_dir = ctx.out_dir / SUITE
    findings: dict[str, Finding] = {}
    try:
        stats = yield from _drive(plan, world, ctx, findings)
    except Cancelled:
        yield _finished(started, Verdict.ERROR, "interrupted before the load run finished", {})
        return
    leak_case = _leak_case(findings, plan, time.monotonic() - started)
    yield leak_case
    slo_cases = [
        CaseFinished(SUITE, r.name, Verdict.PASS if r.ok else Verdict.FAIL, 0.0, r.message)
        for r in evaluate(stats, ctx.options.slo)
    ]
    yield from slo_cases
    verdict = Verdict.merge(leak_case.verdict, *(c.verdict for c in slo_cases))
    failed = [c.message for c in (leak_case, *slo_cases) if c.verdict is not Verdict.PASS]
    metrics = _metrics(stats, plan, findings)
    yield _finished(started, verdict, "; ".join(failed), metrics, _artifacts(run_dir))


def _drive(
    plan: LoadPlan, world: World, ctx: RunContext, findings: dict[str, Finding]
) -> Generator[Event, None, LoadStats]:
    runner = run_locust(plan, world, ctx.out_dir / SUITE, ctx.cancel)
    while True:
        try:
            found = next(runner)
        except StopIteration as done:
            stats: LoadStats = done.value
            return stats
        found = dataclasses.replace(found, suite=SUITE)  # before its key: the key names it
        if found.key not in findings:
            findings[found.key] = found
            yield FindingRaised(SUITE, found)


def _leak_case(findings: dict[str, Finding], plan: LoadPlan, seconds: float) -> CaseFinished:
    if not plan.check_leaks:
        return CaseFinished(SUITE, LEAK_CASE, Verdict.PASS, seconds, "leak checks were disabled")
    if not findings:
        return CaseFinished(SUITE, LEAK_CASE, Verdict.PASS, seconds, "no leaks seen")
    kinds = sorted({f.kind for f in findings.values()})
    message = f"{len(findings)} leak finding(s): {', '.join(kinds)}"
    return CaseFinished(SUITE, LEAK_CASE, Verdict.FAIL, seconds, message, tuple(findings))


def _metrics(stats: LoadStats, plan: LoadPlan, findings: dict[str, Finding]) -> dict[str, object]:
    return {
        **stats.metrics(),
        "users": plan.users,
        "switch_users": plan.switch_users,
        "workers": plan.workers,
        "seconds": plan.run_time,
        "leak_checks": plan.check_leaks,
        "findings": len(findings),
    }


def _artifacts(run_dir: Path) -> tuple[str, ...]:
    names = (
        f"{contract.CSV_PREFIX}_stats.csv",
        f"{contract.CSV_PREFIX}_stats_history.csv",
        f"{contract.CSV_PREFIX}_failures.csv",
        contract.JSON_FILE,
        contract.LOG_FILE,
    )
    return tuple(str(run_dir / n) for n in names if (run_dir / n).is_file())


def _finished(
    started: float,
    verdict: Verdict,
    message: str,
    metrics: dict[str, object],
    artifacts: tuple[str, ...] = (),
) -> SuiteFinished:
    return SuiteFinished(
        SUITE, verdict, time.monotonic() - started, time.time(), message, metrics, artifacts
    )
