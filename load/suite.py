"""The load suite: many synthetic users at once, every response leak-checked, SLOs gated.

Registered as `load = "load.suite:run_load"` in the `chaperone.suites` entry-point group. What
the users do comes from the profile's `load:` section (load.workload). The verdict is fail on any
leak finding or any breached SLO threshold; a run that could not happen (no Locust, Locust
crashed, the target died, a worker never joined or went missing) raises InfrastructureError
after yielding the findings gathered so far, and the engine reports it as an error. What the
users read is added to the run's coverage under the suite's label, also when the run failed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from harness.adapters.capabilities import DISCOVERY
from harness.config import RunOptions, load_flow_share
from harness.events import CaseFinished, Event, FindingRaised, SuiteFinished, SuiteStarted
from harness.models import Finding, Verdict
from harness.profile.model import TargetProfile
from harness.profile.steps import prepare
from harness.suites import RunContext
from harness.world import World
from load import contract
from load.checker import MediaTally
from load.contract import DiscoveredRead
from load.findings_io import read_coverage, read_media
from load.runner import LoadPlan, run_locust
from load.slo import evaluate
from load.stats import LoadStats
from load.workload import Workload

SUITE = "load"
LEAK_CASE = "leak check: every response seen by its rightful owner only"


def plan_for(
    target: str,
    options: RunOptions,
    world: World,
    check_leaks: bool = True,
    discovered: tuple[DiscoveredRead, ...] = (),
    reserved: frozenset[str] = frozenset(),
) -> LoadPlan:
    """Half the users take journeys (at least two, so flows can collide), the rest read; all
    of them journey when the profile has no load reads, none when it has no load flows. No
    journey takes a `reserved` user's resources (a suite running beside drives them)."""
    profile = TargetProfile.model_validate(world.profile)
    # A profile mistake stops here, in one line.
    workload = Workload(profile, world, discovered, reserved)
    users = options.load_users
    media = options.media == "real" and profile.media is not None
    if not workload.journeys:
        flow_users = 0
    elif not workload.reads:
        flow_users = users
    else:
        flow_users = load_flow_share(users)
    if media and options.load_calls and workload.journeys:
        # N real calls: N journey users, beside the readers the usual share would have.
        users += options.load_calls - flow_users
        flow_users = options.load_calls
    flow_users = min(flow_users, workload.flow_resources())
    counts = (("ReadUser", users - flow_users), ("FlowUser", flow_users))
    classes = [name for name, n in counts if n]
    return LoadPlan(
        target=target,
        users=users,
        seconds=options.load_seconds,
        workers=options.workers,
        flow_users=flow_users,
        check_leaks=check_leaks,
        expect_workers=options.expect_workers,
        master_host=options.master_bind_host,
        master_port=options.master_bind_port,
        join_seconds=options.load_join_seconds,
        health=_health_path(profile),
        discovered=discovered,
        user_classes=tuple(classes) or ("ReadUser",),
        reserved=tuple(sorted(reserved)),
        media=media,
    )


def _health_path(profile: TargetProfile) -> str | None:
    if profile.health is None or profile.health.method != "GET":
        return None
    return prepare(profile.health, {}).path


def _discovered(ctx: RunContext) -> tuple[DiscoveredRead, ...]:
    """The GET routes the target found in the app's OpenAPI document, an imported HAR or the
    crawl (workers never see them)."""
    discovery = ctx.capability(DISCOVERY)
    if discovery is None:
        return ()
    found = discovery.discovered()
    return tuple(DiscoveredRead(d.route, d.path, d.params, d.query) for d in found)


def run_load(ctx: RunContext) -> Iterator[Event]:
    yield from run_load_plan(ctx, check_leaks=True)


def run_load_plan(ctx: RunContext, check_leaks: bool) -> Iterator[Event]:
    started = time.monotonic()
    yield SuiteStarted(SUITE, None, time.time())
    world = ctx.reseed()
    plan = plan_for(ctx.target, ctx.options, world, check_leaks, _discovered(ctx), ctx.reserved)
    run_dir = ctx.out_dir / SUITE
    findings: dict[str, Finding] = {}
    try:
        # A cancelled run (its deadline, a Ctrl-C) stops Locust and raises Cancelled here,
        # after the findings so far; the engine reports why.
        stats = yield from _drive(plan, world, ctx, findings)
    finally:
        _absorb_coverage(ctx, run_dir)
    media = read_media(run_dir / contract.FINDINGS_DIR)
    leak_case = _leak_case(findings, plan, time.monotonic() - started, media)
    yield leak_case
    routes = TargetProfile.model_validate(world.profile).load
    slo_cases = [
        CaseFinished(
            SUITE,
            r.name,
            Verdict.PASS if r.ok else Verdict.FAIL,
            0.0,
            r.message,
            skipped=r.skipped,
        )
        for r in evaluate(stats, ctx.options.slo, routes.slo if routes else {})
    ]
    yield from slo_cases
    verdict = Verdict.merge(leak_case.verdict, *(c.verdict for c in slo_cases))
    failed = [c.message for c in (leak_case, *slo_cases) if c.verdict is not Verdict.PASS]
    metrics = _metrics(stats, plan, findings, media)
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


def _absorb_coverage(ctx: RunContext, run_dir: Path) -> None:
    """What the Locust users read joins the run's coverage, under this suite's label."""
    coverage = ctx.adapter.coverage
    label = coverage.suite or SUITE
    coverage.absorb(read_coverage(run_dir / contract.FINDINGS_DIR, label))


def _leak_case(
    findings: dict[str, Finding], plan: LoadPlan, seconds: float, media: MediaTally
) -> CaseFinished:
    if not plan.check_leaks:
        return CaseFinished(SUITE, LEAK_CASE, Verdict.PASS, seconds, "leak checks were disabled")
    if plan.media and media.unconnected:
        # Their recordings hold nobody's code, and no oracle knows one was due.
        why = (
            f"{media.unconnected} real call(s) never connected: they sent no media, so "
            "nothing was checked of it (a starved machine: run fewer --calls)"
        )
        return CaseFinished(SUITE, LEAK_CASE, Verdict.ERROR, seconds, why)
    if plan.media and not findings and not media.decoded:
        # Real calls whose recordings nobody decoded proved nothing about the media.
        why = "real calls, but the media oracle decoded no stored media"
        return CaseFinished(SUITE, LEAK_CASE, Verdict.ERROR, seconds, why)
    if not findings:
        return CaseFinished(SUITE, LEAK_CASE, Verdict.PASS, seconds, "no leaks seen")
    kinds = sorted({f.kind for f in findings.values()})
    message = f"{len(findings)} leak finding(s): {', '.join(kinds)}"
    return CaseFinished(SUITE, LEAK_CASE, Verdict.FAIL, seconds, message, tuple(findings))


def _metrics(
    stats: LoadStats, plan: LoadPlan, findings: dict[str, Finding], media: MediaTally
) -> dict[str, object]:
    real = {
        "media_calls": plan.flow_users,
        # Calls live at one moment, at most: what "N concurrent calls" can honestly claim.
        "media_calls_peak": media.peak_calls(),
        "media_calls_unconnected": media.unconnected,
        "media_items_decoded": media.decoded,
        # Lost coverage too (counted in the run's coverage, never clean).
        "media_items_over_budget": media.skipped,
        "media_decode_seconds": round(media.seconds, 3),
    }
    return {
        **(real if plan.media else {}),
        **stats.metrics(),
        "users": plan.users,
        "flow_users": plan.flow_users,
        "reserved_users": len(plan.reserved),
        "workers": plan.workers,
        "remote_workers": plan.expect_workers,
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
