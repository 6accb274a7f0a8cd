"""Scores from outcomes. A fault counts as detected only when its runs raised findings: a
failed SLO or an errored suite is not a detection. A clean seed is noisy when it found, failed
or errored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from harness.models import Verdict
from reports.groups import group_findings
from reports.result import RunResult
from selftest.evidence import (
    base_suite,
    error_lines,
    findings_by_suite,
    leak_identities,
    run_json,
    verdict_of,
)
from selftest.outcome import RunOutcome
from selftest.plan import CLEAN_SUITES, PlannedRun, ordered


@dataclass(frozen=True, slots=True)
class FaultScore:
    name: str
    detected: bool
    suites: tuple[str, ...]  # suites whose findings caught it
    findings: int
    seconds: float
    cpu_seconds: float = 0.0
    by_suite: Mapping[str, int] = field(default_factory=dict)
    suites_run: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    verdict: str = "error"
    errors: tuple[str, ...] = ()
    infra_error: str | None = None
    report_dir: str = ""
    runs: tuple[Mapping[str, object], ...] = ()
    fuzz: Mapping[str, object] | None = None  # what the fuzz-only run's own traffic found
    root_causes: int = 0  # the targeted run's failing root causes, as its report lists them

    @property
    def split(self) -> bool:
        """One planted bug must read as one line, two at most (triage keys on the leaked
        object): more is triage scattering it over routes and surfaces again."""
        return self.root_causes > MAX_CAUSES

    def as_json(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "suites": list(self.suites),
            "findings": self.findings,
            "seconds": round(self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "by_suite": dict(self.by_suite),
            "suites_run": list(self.suites_run),
            "scenarios": list(self.scenarios),
            "verdict": self.verdict,
            "errors": list(self.errors),
            "infrastructure_error": self.infra_error,
            "report_dir": self.report_dir,
            "runs": [dict(r) for r in self.runs],
            "fuzz": dict(self.fuzz) if self.fuzz is not None else None,
            "root_causes": self.root_causes,
        }


MAX_CAUSES = 2


def root_causes(result: RunResult | None) -> int:
    """Failing root causes of one run, grouped as its report.json's causes[] are."""
    if result is None:
        return 0
    accepted = [r.key for r in result.findings if r.accepted]
    groups = group_findings(result.findings, accepted, result.roles)
    return sum(1 for g in groups if not g.accepted)


def fuzz_details(outcomes: Sequence[RunOutcome]) -> dict[str, object] | None:
    """How the fuzz-only run found what it found. Its warm-up drives one scenario first (so
    there is owned data to request), and the suite's findings include what that saw; the
    matrix's fuzz column counts only the leaks its generated requests reached."""
    result = next((o.result for o in outcomes if o.planned.part == "fuzz" and o.result), None)
    suite = result.suite("fuzz") if result is not None else None
    if result is None or suite is None:
        return None
    metrics = suite.metrics
    return {
        "findings": findings_by_suite(result).get("fuzz", 0),
        "from_fuzz_traffic": metrics.get("leaks_from_schemathesis", 0),
        "from_warm_up": metrics.get("leaks_from_warm_up", 0),
        "requests": metrics.get("requests", 0),
        "requests_by_phase": metrics.get("requests_by_phase", {}),
        "stopped": metrics.get("stopped", ""),
    }


def score_fault(outcomes: Sequence[RunOutcome]) -> FaultScore:
    """One fault over its runs (the targeted run first, then its fuzz-only run)."""
    main = outcomes[0]
    results = [o.result for o in outcomes if o.result is not None]
    counts: Counter[str] = Counter()
    leaks: set[tuple[str, ...]] = set()
    for result in results:
        counts.update(findings_by_suite(result))
        leaks |= leak_identities(result)
    infra = [f"{o.planned.part}: {o.infra_error}" for o in outcomes if o.infra_error]
    return FaultScore(
        name=main.planned.name,
        detected=any(r.findings for r in results),
        suites=tuple(ordered(s for s, n in counts.items() if n)),
        findings=len(leaks),
        seconds=sum(o.seconds for o in outcomes),
        cpu_seconds=sum(o.cpu_seconds for o in outcomes),
        by_suite={s: counts[s] for s in ordered(counts) if counts[s]},
        suites_run=tuple(ordered(s for o in outcomes for s in o.planned.suites)),
        scenarios=main.planned.scenarios,
        verdict=Verdict.merge(*(verdict_of(o) for o in outcomes)).value,
        errors=tuple(line for o in outcomes for line in error_lines(o)),
        infra_error="; ".join(infra) or None,
        report_dir=main.report_dir,
        runs=tuple(run_json(o) for o in outcomes),
        fuzz=fuzz_details(outcomes),
        root_causes=root_causes(main.result),
    )


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
    part: str = "main"
    scenarios: tuple[str, ...] = ()
    cpu_seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"seed-{self.seed}" + ("" if self.part == "main" else f"/{self.part}")

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "seed": self.seed,
            "findings": self.findings,
            "failed": self.failed,
            "errored": self.errored,
            "seconds": round(self.seconds, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "suites_run": list(self.suites_run),
            "scenarios": list(self.scenarios),
            "errors": list(self.errors),
            "infrastructure_error": self.infra_error,
            "report_dir": self.report_dir,
        }


def score_clean(outcome: RunOutcome) -> tuple[CleanScore, ...]:
    """One score per seed the run covered. A seed's findings and failed suites are those
    labelled with it (`switch@seed=5`; the first seed's are unlabelled). What cannot be pinned
    on one seed counts against every seed of the run: a run that errored, could not be carried
    out, or failed with no seed's suite failing."""
    planned, result = outcome.planned, outcome.result
    verdict = verdict_of(outcome)
    errored = verdict is not Verdict.PASS and verdict is not Verdict.FAIL
    labels = {seed: _seed_labels(planned, i) for i, seed in enumerate(planned.seeds)}
    owned = {label for names in labels.values() for label in names}
    first = planned.seeds[0]
    scores = []
    for seed, names in labels.items():
        findings = [
            r
            for r in (result.findings if result else ())
            if r.finding.suite in names or (seed == first and r.finding.suite not in owned)
        ]
        suites = [result.suite(n) for n in names] if result else []
        failed_suite = any(s is not None and s.verdict is Verdict.FAIL for s in suites)
        scores.append(
            CleanScore(
                seed=seed,
                findings=len(findings),
                failed=result is not None and (bool(findings) or failed_suite),
                errored=errored,
                seconds=sum(s.seconds for s in suites if s is not None),
                suites_run=tuple(base_suite(n) for n in names),
                errors=tuple(error_lines(outcome, skip=owned - set(names)) or _elsewhere(outcome)),
                infra_error=outcome.infra_error,
                report_dir=outcome.report_dir,
                part=planned.part,
                scenarios=planned.scenarios,
            )
        )
    if result is not None and verdict is Verdict.FAIL and not any(s.failed for s in scores):
        scores = [replace(s, failed=True) for s in scores]  # failed, but on no seed's suite
    return _share_run_time(scores, outcome)


def _seed_labels(planned: PlannedRun, index: int) -> tuple[str, ...]:
    """The suite labels a run reports for its `index`-th seed: the first seed's suites by
    name, each extra seed's repeats of switch and access as `switch@seed=N`."""
    if index == 0:
        return planned.suites
    seed = planned.seeds[index]
    return tuple(f"{s}@seed={seed}" for s in planned.suites if s in CLEAN_SUITES)


def _elsewhere(outcome: RunOutcome) -> list[str]:
    """Why a seed with no error of its own counts as errored: its run's errors."""
    lines = error_lines(outcome)
    return [f"run: errored on another seed ({lines[0]})"] if lines else []


def _share_run_time(scores: list[CleanScore], outcome: RunOutcome) -> tuple[CleanScore, ...]:
    """The run's wall and CPU time shared out over its seeds by the time their suites took
    (evenly when none finished), so the seeds' times add up to the run's."""
    total = sum(s.seconds for s in scores)
    shares = [s.seconds / total if total > 0 else 1 / len(scores) for s in scores]
    return tuple(
        replace(s, seconds=outcome.seconds * share, cpu_seconds=outcome.cpu_seconds * share)
        for s, share in zip(scores, shares, strict=True)
    )
