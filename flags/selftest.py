"""The detection scorecard behind `chaperone selftest`: does the gate catch every planted fault,
and does it stay silent on the clean build?

A plan is one run per planted fault plus several runs of the clean clinic (one per seed). Each
run is a normal engine run against a freshly started local clinic; its reports are written to
its own directory. The scorecard then decides, in this order (error > fail > pass):

1. exit 2 if any run could not be carried out (the clinic did not start, the out dir broke);
2. exit 1 if a fault went undetected (no finding at all), or a clean run failed or errored;
3. exit 0 otherwise.

A fault counts as detected only when its run raised findings: a failed SLO or an errored
suite is not a detection. This module never prints; the command prints the progress.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.errors import ChaperoneError, ExitCode
from harness.events import Event, FindingRaised
from harness.local_clinic import local_clinic
from harness.models import Finding, Verdict
from harness.profile import load_profile
from harness.sinks import clinic_wiring, sinks_for
from reports.files import write_atomic
from reports.redact import Redactor
from reports.result import RunCollector, RunResult
from reports.scorecard_html import render_html
from reports.writer import write_all

BASE_SUITES = ("switch", "access", "stateful")
SUITE_ORDER = ("switch", "access", "stateful", "load", "browser")
# Faults that only show when actors act at the same moment: their runs add the load suite.
CONCURRENCY_FAULTS = frozenset({"switch-race"})


class SelftestPlan(BaseModel):
    """What a selftest runs. The fault names come from the caller (flags must not import the
    clinic), so this model holds no catalog of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: tuple[str, ...]
    clean_seeds: tuple[int, ...] = Field((0, 1, 2, 3, 4), min_length=1)
    quick: bool = False
    browser: bool = False

    def options(self, suites: Sequence[str], seed: int) -> RunOptions:
        """Quick runs use fewer patients, examples and load seconds so CI can afford them."""
        return RunOptions(
            suites=tuple(suites),
            seed=seed,
            patients=4 if self.quick else 6,
            stateful_examples=10 if self.quick else 30,
            load_seconds=8.0 if self.quick else 20.0,
            timeout_seconds=600.0,
        )

    def runs(self) -> list[PlannedRun]:
        extra = ("browser",) if self.browser else ()
        planned = [
            PlannedRun("fault", fault, (fault,), self._fault_suites(fault) + extra, 0)
            for fault in self.faults
        ]
        for index, seed in enumerate(self.clean_seeds):
            # Load and browser are slow; once on the clean build proves them silent there.
            suites = (*BASE_SUITES, "load", *extra) if index == 0 else BASE_SUITES
            planned.append(PlannedRun("clean", f"seed-{seed}", (), suites, seed))
        return planned

    @staticmethod
    def _fault_suites(fault: str) -> tuple[str, ...]:
        return BASE_SUITES + (("load",) if fault in CONCURRENCY_FAULTS else ())


@dataclass(frozen=True, slots=True)
class PlannedRun:
    kind: str  # "fault" or "clean"
    name: str
    faults: tuple[str, ...]
    suites: tuple[str, ...]
    seed: int

    @property
    def directory(self) -> str:
        return f"{'faults' if self.kind == 'fault' else 'clean'}/{self.name}"


class FindingTally:
    """Distinct findings per suite, counted as they are raised. The run result cannot tell:
    it removes duplicates across suites, so a leak the access matrix confirms after the switch
    suite found it would be credited to the switch suite only."""

    def __init__(self) -> None:
        self._keys: dict[str, set[str]] = {}

    def watch(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, FindingRaised):
                suite = base_suite(event.finding.suite or event.suite)
                self._keys.setdefault(suite, set()).add(event.finding.key)
            yield event

    def counts(self) -> dict[str, int]:
        return {suite: len(keys) for suite, keys in self._keys.items()}


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One carried-out run: its result and findings per suite, or why it could not run."""

    planned: PlannedRun
    result: RunResult | None
    seconds: float
    report_dir: str
    infra_error: str | None = None
    secrets: tuple[str, ...] = ()
    by_suite: Mapping[str, int] = field(default_factory=dict)


def execute(plan: SelftestPlan, planned: PlannedRun, out_root: Path) -> RunOutcome:
    """Start a clinic with the run's faults, run the engine, write the run's reports."""
    out = out_root / planned.directory
    started = time.monotonic()
    try:
        profile = load_profile("clinic")
        with (
            sinks_for(profile.profile) as sinks,
            local_clinic(planned.faults, extra_args=clinic_wiring(sinks)) as clinic,
        ):
            request = RunRequest(
                clinic.url,
                plan.options(planned.suites, planned.seed),
                out,
                clinic.support_token,
                profile=profile,
                build=f"selftest-{planned.name}",
                sinks=sinks,
            )
            tally = FindingTally()
            result = RunCollector().consume(tally.watch(run(request)))
            write_all(result, out, secrets=[clinic.support_token])
            token = (clinic.support_token,)
    except ChaperoneError as exc:
        return RunOutcome(planned, None, time.monotonic() - started, "", exc.one_line())
    seconds = time.monotonic() - started
    return RunOutcome(planned, result, seconds, str(out), None, token, tally.counts())


def base_suite(label: str) -> str:
    """'switch@seed=3' -> 'switch': extra seeds of one suite count as that suite."""
    return label.split("@", 1)[0]


@dataclass(frozen=True, slots=True)
class FaultScore:
    name: str
    detected: bool
    suites: tuple[str, ...]  # suites whose findings caught it
    findings: int
    seconds: float
    by_suite: Mapping[str, int] = field(default_factory=dict)
    suites_run: tuple[str, ...] = ()
    verdict: str = "error"
    errors: tuple[str, ...] = ()
    infra_error: str | None = None
    report_dir: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "suites": list(self.suites),
            "findings": self.findings,
            "seconds": round(self.seconds, 1),
            "by_suite": dict(self.by_suite),
            "suites_run": list(self.suites_run),
            "verdict": self.verdict,
            "errors": list(self.errors),
            "infrastructure_error": self.infra_error,
            "report_dir": self.report_dir,
        }


@dataclass(frozen=True, slots=True)
class CleanScore:
    seed: int
    findings: int
    failed: bool  # a finding, or a suite that failed (an SLO breach) on the clean build
    errored: bool
    seconds: float
    suites_run: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    infra_error: str | None = None
    report_dir: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "findings": self.findings,
            "failed": self.failed,
            "errored": self.errored,
            "seconds": round(self.seconds, 1),
            "suites_run": list(self.suites_run),
            "errors": list(self.errors),
            "infrastructure_error": self.infra_error,
            "report_dir": self.report_dir,
        }


def _error_lines(result: RunResult, secrets: Iterable[str]) -> tuple[str, ...]:
    mask = Redactor(secrets)
    lines = [f"{e.suite or 'run'}: {e.message}" for e in result.errors]
    if result.verdict is Verdict.ERROR and not lines:
        lines = list(result.reasons)
    return tuple(mask(line) for line in lines)


def score_fault(outcome: RunOutcome) -> FaultScore:
    planned, result = outcome.planned, outcome.result
    if result is None:
        return FaultScore(
            planned.name,
            False,
            (),
            0,
            outcome.seconds,
            suites_run=planned.suites,
            infra_error=outcome.infra_error,
        )
    counts = {suite: n for suite, n in outcome.by_suite.items() if n}
    return FaultScore(
        name=planned.name,
        detected=bool(result.findings),
        suites=tuple(_ordered(counts)),
        findings=distinct_leaks(result),
        seconds=outcome.seconds,
        by_suite=counts,
        suites_run=planned.suites,
        verdict=result.verdict.value,
        errors=_error_lines(result, outcome.secrets),
        report_dir=outcome.report_dir,
    )


def distinct_leaks(result: RunResult) -> int:
    """Findings across the whole run, a leak confirmed by several suites counted once. The
    run result keeps one record per suite (its keys name the suite), so that each suite is
    credited; the scorecard's total is about leaks, not about who saw them."""
    return len({_leak_identity(r.finding) for r in result.findings})


def _leak_identity(finding: Finding) -> tuple[str, ...]:
    return (
        finding.check,
        finding.kind,
        finding.owner or "",
        finding.observer,
        str(finding.surface),
    )


def score_clean(outcome: RunOutcome) -> CleanScore:
    planned, result = outcome.planned, outcome.result
    if result is None:
        return CleanScore(
            planned.seed, 0, False, True, outcome.seconds, planned.suites, (), outcome.infra_error
        )
    return CleanScore(
        seed=planned.seed,
        findings=len(result.findings),
        failed=bool(result.findings) or result.verdict is Verdict.FAIL,
        errored=result.verdict is not Verdict.PASS and result.verdict is not Verdict.FAIL,
        seconds=outcome.seconds,
        suites_run=planned.suites,
        errors=_error_lines(result, outcome.secrets),
        report_dir=outcome.report_dir,
    )


def _ordered(names: Iterable[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(SUITE_ORDER)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))


def machine_facts() -> dict[str, object]:
    """Where the figures were measured: they mean little without the machine."""
    return {
        "cpu_count": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "implementation": sys.implementation.name,
    }


@dataclass(frozen=True, slots=True)
class Scorecard:
    faults: tuple[FaultScore, ...]
    clean: tuple[CleanScore, ...]
    machine: Mapping[str, object] = field(default_factory=dict)
    quick: bool = False

    @classmethod
    def from_outcomes(
        cls, outcomes: Iterable[RunOutcome], machine: Mapping[str, object], quick: bool = False
    ) -> Scorecard:
        done = list(outcomes)
        faults = tuple(score_fault(o) for o in done if o.planned.kind == "fault")
        clean = tuple(score_clean(o) for o in done if o.planned.kind == "clean")
        return cls(faults, clean, dict(machine), quick)

    @property
    def infra_errors(self) -> list[str]:
        runs: list[tuple[str, str | None]] = [(f.name, f.infra_error) for f in self.faults]
        runs += [(f"clean seed {c.seed}", c.infra_error) for c in self.clean]
        return [f"{name}: {error}" for name, error in runs if error]

    @property
    def undetected(self) -> list[str]:
        return [f.name for f in self.faults if not f.detected]

    @property
    def noisy_clean(self) -> list[int]:
        return [c.seed for c in self.clean if c.failed or c.errored]

    def exit_code(self) -> ExitCode:
        if self.infra_errors:
            return ExitCode.ERROR
        if self.undetected or self.noisy_clean or not self.faults or not self.clean:
            return ExitCode.FAIL
        return ExitCode.PASS

    def suites(self) -> list[str]:
        """Every suite that ran in any fault run, in the usual order: the matrix columns."""
        return _ordered(s for f in self.faults for s in f.suites_run)

    def as_json(self) -> dict[str, object]:
        return {
            "faults": {f.name: f.as_json() for f in self.faults},
            "clean": {
                "runs": len(self.clean),
                "runs_with_findings": sum(c.failed for c in self.clean),
                "errors": sum(c.errored for c in self.clean),
                "seeds": [c.as_json() for c in self.clean],
            },
            "machine": dict(self.machine),
            "quick": self.quick,
            "suites": self.suites(),
            "infrastructure_errors": self.infra_errors,
            "passed": self.exit_code() is ExitCode.PASS,
            "exit_code": int(self.exit_code()),
        }


def write_scorecard(card: Scorecard, out_dir: Path) -> dict[str, Path]:
    """selftest.json and selftest.html, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = card.as_json()
    return {
        "json": write_atomic(out_dir / "selftest.json", json.dumps(data, indent=1) + "\n"),
        "html": write_atomic(out_dir / "selftest.html", render_html(data)),
    }
