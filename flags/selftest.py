"""The detection scorecard behind `chaperone selftest`: does the gate catch every planted fault,
and does it stay silent on the clean build?

The plan is targeted: each planted fault gets the suites, switch scenarios and population it
shows under (`TARGETS`, data), so each run is short; a fault that shows in single requests also
gets a fuzz-only run, for the matrix's fuzz column. The clean clinic runs switch and access with
every scenario over many seeds, and every other suite the plan uses once (seed 0), so each
suite that is credited with a detection is also shown silent on the clean build. Consecutive
clean seeds share one run (`CLEAN_GROUP` of them, `--extra-seeds`): each seed is seeded afresh
and its suites are labelled with it, so every seed is still scored on its own, and the group
pays a harness's and a clinic's start-up once.

Each planned run is one `chaperone run` subprocess (flags.selftest_runs); its report.json is
read back into a RunResult. The scorecard then decides, in this order (error > fail > pass):

1. exit 2 if any run could not be carried out (the clinic did not start, no report came back);
2. exit 1 if a fault went undetected (no finding at all), or a clean run found, failed or
   errored;
3. exit 0 otherwise.

A fault counts as detected only when its runs raised findings: a failed SLO or an errored
suite is not a detection. This module never prints; the command prints the progress.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ExitCode
from harness.models import Finding, Verdict
from reports.files import write_atomic
from reports.result import RunResult
from reports.scorecard_html import render_html

SUITE_ORDER = ("switch", "access", "stateful", "load", "fuzz", "browser")
CLEAN_SUITES = ("switch", "access")  # every clean seed, with every scenario
DEFAULT_CLEAN_SEEDS = 20
# Clean seeds per `chaperone run`. A run's start-up (a harness and a clinic) costs about 4.5
# CPU-s against some 25 for a seed's switch and access, and a group of four still leaves runs
# short enough for two jobs to end together.
CLEAN_GROUP = 4
QUICK_FAULTS = ("recording-idor", "switch-recording-misattribution")
FUZZ_EXAMPLES = 5
# Bounded by time, not by phase: the examples pass (each actor in turn sending every planted
# id) comes first, and the first actors' passes already reach other owners' data.
FUZZ_SECONDS = 30.0
LOAD_SECONDS = 8.0

MID_CALL = ("switch-mid-call",)
# Every scenario that files a recording: a patient needs more than one page (10) of them.
PAGED = (
    "switch-mid-call",
    "repeated-switches",
    "switch-back-to-audio",
    "rejoin-after-switch",
    "switch-near-end",
    "concurrent-switch-storm",
)


@dataclass(frozen=True, slots=True)
class Targeting:
    """Where one planted fault shows: what a run needs to catch it, and nothing more.

    `scenarios` empty means every switch scenario. `fuzz` marks a fault that shows in single
    requests: it also gets a fuzz-only run. `browser` marks one the browser suite can see
    (`--browser` adds it)."""

    suites: tuple[str, ...]
    scenarios: tuple[str, ...] = MID_CALL
    patients: int = 3
    clinicians: int = 2
    extra_seeds: int = 0
    fuzz: bool = False
    browser: bool = False


SWITCH_ACCESS = ("switch", "access")
WITH_STATEFUL = ("switch", "access", "stateful")
# A fault missing here still runs: switch and access with every scenario.
DEFAULT_TARGETING = Targeting(SWITCH_ACCESS, scenarios=())
TARGETS: dict[str, Targeting] = {
    "switch-recording-misattribution": Targeting(WITH_STATEFUL, fuzz=True, browser=True),
    "recordings-unscoped-after-switch": Targeting(WITH_STATEFUL, fuzz=True, browser=True),
    "recording-idor": Targeting(SWITCH_ACCESS, fuzz=True),
    "profile-cache-shared": Targeting(SWITCH_ACCESS),
    # Only when switches really overlap: Locust's switch waves, nothing else.
    "switch-race": Targeting(("load",), scenarios=()),
    "clinician-scope-leak": Targeting(SWITCH_ACCESS, fuzz=True),
    "media-token-unbound": Targeting(SWITCH_ACCESS, fuzz=True),
    "appointments-leak-on-rejoin": Targeting(WITH_STATEFUL, scenarios=("rejoin-after-switch",)),
    "list-scope-lost-after-first-page": Targeting(("switch",), scenarios=PAGED),
    "transfer-keeps-old-access": Targeting(("switch",), scenarios=("patient-transferred",)),
    "discharge-keeps-access": Targeting(("switch",), scenarios=("care-ended",)),
    "consent-withdrawal-ignored": Targeting(("switch",), scenarios=("consent-withdrawn",)),
    "deleted-recording-still-listed": Targeting(SWITCH_ACCESS, scenarios=("recording-deleted",)),
    "ws-events-broadcast": Targeting(("switch",)),
    "mail-wrong-recipient": Targeting(("switch",)),
    "sms-wrong-recipient": Targeting(("switch",)),
    "export-unscoped": Targeting(SWITCH_ACCESS, fuzz=True),
    "search-unscoped": Targeting(SWITCH_ACCESS, fuzz=True),
    # It leaks to exactly one other patient: found only at the release policy's size, where
    # the access matrix's seeded sample covers every (owner, observer) pair over three seeds.
    # The fuzz suite's examples pass sends every planted id as every actor, neighbour included.
    "recording-idor-neighbour": Targeting(
        ("access",), patients=20, clinicians=4, extra_seeds=2, fuzz=True
    ),
}


def targeting(fault: str) -> Targeting:
    return TARGETS.get(fault, DEFAULT_TARGETING)


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """One `chaperone run`: a fault's targeted run (part "main"), its fuzz-only run ("fuzz"),
    or a clean run ("main" for switch and access, or one more suite on seed 0)."""

    kind: str  # "fault" or "clean"
    name: str  # the fault, or "seed-N"
    faults: tuple[str, ...]
    suites: tuple[str, ...]
    seed: int
    part: str = "main"
    scenarios: tuple[str, ...] = ()  # empty: every scenario
    patients: int = 3
    clinicians: int = 2
    extra_seeds: int = 0

    @property
    def directory(self) -> str:
        return f"{'faults' if self.kind == 'fault' else 'clean'}/{self.name}/{self.part}"

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds the run covers: its own, then `--extra-seeds` more, consecutively."""
        return tuple(range(self.seed, self.seed + self.extra_seeds + 1))

    @property
    def label(self) -> str:
        if self.kind == "fault":
            what = f"fault {self.name}"
        elif self.extra_seeds:
            what = f"clean seeds {self.seed}-{self.seeds[-1]}"
        else:
            what = f"clean seed {self.seed}"
        return f"{what}, {'+'.join(self.suites)}"

    def arguments(self, out: Path) -> list[str]:
        """The `chaperone run` arguments that carry this run out, writing into `out`."""
        args = [f"--suite={suite}" for suite in self.suites]
        args += [f"--scenario={name}" for name in self.scenarios]
        if self.faults:
            args.append(f"--faults={','.join(self.faults)}")
        args += [f"--patients={self.patients}", f"--clinicians={self.clinicians}"]
        args += [f"--seed={self.seed}", f"--extra-seeds={self.extra_seeds}"]
        if "load" in self.suites:
            args.append(f"--load-seconds={LOAD_SECONDS:g}")
        if "fuzz" in self.suites:
            args += [f"--fuzz-examples={FUZZ_EXAMPLES}", f"--fuzz-seconds={FUZZ_SECONDS:g}"]
        return [*args, f"--build=selftest-{self.name}-{self.part}", f"--out={out}"]

    def cost(self) -> float:
        """A rough estimate of the run's seconds, so the longest start first and the parallel
        runs end together. Only the order depends on it, never a result."""
        scenarios = len(self.scenarios) or 11
        actors = (self.patients + self.clinicians) / 5
        per_seed = {
            "switch": 2.5 * scenarios * actors,
            "access": 3.0 * actors * actors,
            "stateful": 30.0,
            "load": LOAD_SECONDS + 10.0,
            "fuzz": FUZZ_SECONDS + 10.0,
            "browser": 60.0,
        }
        seeds = 1 + self.extra_seeds
        return 8.0 + seeds * sum(per_seed.get(s, 30.0) for s in self.suites)


class SelftestPlan(BaseModel):
    """What a selftest runs. The fault names come from the caller (flags must not import the
    clinic); `TARGETS` says how each is run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    faults: tuple[str, ...]
    clean_seeds: tuple[int, ...] = Field(tuple(range(DEFAULT_CLEAN_SEEDS)), min_length=1)
    quick: bool = False
    browser: bool = False

    def runs(self) -> list[PlannedRun]:
        planned = [run for fault in self.faults for run in self._fault_runs(fault)]
        planned += self._clean_runs(_ordered(s for r in planned for s in r.suites))
        return planned

    def scenario_names(self) -> set[str]:
        """Every switch scenario the plan names, to be checked before anything runs."""
        return {name for run in self.runs() for name in run.scenarios}

    def _fault_runs(self, fault: str) -> list[PlannedRun]:
        target = targeting(fault)
        extra = ("browser",) if self.browser and target.browser else ()
        main = PlannedRun(
            "fault",
            fault,
            (fault,),
            (*target.suites, *extra),
            0,
            scenarios=target.scenarios,
            patients=target.patients,
            clinicians=target.clinicians,
            extra_seeds=target.extra_seeds,
        )
        if not target.fuzz:
            return [main]
        # The fuzz suite alone, at the smallest population: one warm-up call per patient.
        fuzz = replace(
            main,
            suites=("fuzz",),
            part="fuzz",
            scenarios=MID_CALL,
            patients=3,
            clinicians=2,
            extra_seeds=0,
        )
        return [main, fuzz]

    def _clean_runs(self, used: Sequence[str]) -> list[PlannedRun]:
        """Switch and access with every scenario for each seed, `CLEAN_GROUP` consecutive
        seeds to a run; on the first seed, every other suite the fault runs used, so that each
        is shown silent on the clean build (load and fuzz alone, as the faults' runs have
        them). `chaperone run` repeats only switch and access under its extra seeds, so a
        suite run once stays on the first seed."""
        first = self.clean_seeds[0]
        once: tuple[str, ...] = ("stateful",) if "stateful" in used else ()
        once += ("browser",) if self.browser else ()
        runs = []
        for group in seed_groups(self.clean_seeds, CLEAN_GROUP):
            name = f"seed-{group[0]}" if len(group) == 1 else f"seeds-{group[0]}-{group[-1]}"
            suites = CLEAN_SUITES + (once if group[0] == first else ())
            runs.append(PlannedRun("clean", name, (), suites, group[0], extra_seeds=len(group) - 1))
        for alone in ("load", "fuzz"):
            if alone in used:
                scenarios = MID_CALL if alone == "fuzz" else ()
                runs.append(
                    PlannedRun("clean", f"seed-{first}", (), (alone,), first, alone, scenarios)
                )
        return runs


def seed_groups(seeds: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Runs of consecutive seeds, each at most `size` long, in the given order: one run's
    `--seed` and `--extra-seeds` can only name consecutive seeds."""
    groups: list[list[int]] = []
    for seed in seeds:
        if groups and len(groups[-1]) < size and seed == groups[-1][-1] + 1:
            groups[-1].append(seed)
        else:
            groups.append([seed])
    return [tuple(group) for group in groups]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One run: its result read back from report.json, or why it could not be carried out."""

    planned: PlannedRun
    result: RunResult | None
    seconds: float
    report_dir: str
    infra_error: str | None = None
    exit_code: int | None = None
    cpu_seconds: float = 0.0  # the run's processes: harness, clinic, Locust


def base_suite(label: str) -> str:
    """'switch@seed=3' -> 'switch': extra seeds of one suite count as that suite."""
    return label.split("@", 1)[0]


def findings_by_suite(result: RunResult) -> dict[str, int]:
    """Distinct findings per suite. A finding's key names its suite, so a leak the access
    matrix confirms after the switch suite found it is credited to both."""
    return dict(Counter(base_suite(r.finding.suite) for r in result.findings))


def leak_identities(result: RunResult) -> set[tuple[str, ...]]:
    """A leak as the scorecard's total counts it: once, whichever suites saw it."""
    return {_leak_identity(r.finding) for r in result.findings}


def distinct_leaks(result: RunResult) -> int:
    return len(leak_identities(result))


def _leak_identity(finding: Finding) -> tuple[str, ...]:
    return (
        finding.check,
        finding.kind,
        finding.owner or "",
        finding.observer,
        str(finding.surface),
    )


def _error_lines(outcome: RunOutcome, skip: Set[str] = frozenset()) -> list[str]:
    """The run's errors, one line each, but those of the suites in `skip` (another seed's)."""
    result = outcome.result
    if result is None:
        return []
    lines = [f"{e.suite or 'run'}: {e.message}" for e in result.errors if e.suite not in skip]
    if result.verdict is Verdict.ERROR and not result.errors:
        lines = list(result.reasons) or ["run: verdict error"]
    if outcome.exit_code == int(ExitCode.ERROR) and result.verdict is not Verdict.ERROR:
        lines.append(f"run: exited with code 2, verdict {result.verdict.value}")
    part = outcome.planned.part
    return [line if part == "main" else f"{part}: {line}" for line in lines]


def _verdict(outcome: RunOutcome) -> Verdict:
    if outcome.result is None or outcome.exit_code == int(ExitCode.ERROR):
        return Verdict.ERROR
    return outcome.result.verdict


def _run_json(outcome: RunOutcome) -> dict[str, object]:
    planned = outcome.planned
    return {
        "part": planned.part,
        "suites": list(planned.suites),
        "scenarios": list(planned.scenarios),
        "patients": planned.patients,
        "clinicians": planned.clinicians,
        "seeds": [planned.seed + i for i in range(planned.extra_seeds + 1)],
        "seconds": round(outcome.seconds, 1),
        "cpu_seconds": round(outcome.cpu_seconds, 1),
        "verdict": _verdict(outcome).value,
        "exit_code": outcome.exit_code,
        "findings": len(outcome.result.findings) if outcome.result else 0,
        "report_dir": outcome.report_dir,
        "command": "chaperone run " + " ".join(planned.arguments(Path(outcome.report_dir or "."))),
    }


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
        }


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
        suites=tuple(_ordered(s for s, n in counts.items() if n)),
        findings=len(leaks),
        seconds=sum(o.seconds for o in outcomes),
        cpu_seconds=sum(o.cpu_seconds for o in outcomes),
        by_suite={s: counts[s] for s in _ordered(counts) if counts[s]},
        suites_run=tuple(_ordered(s for o in outcomes for s in o.planned.suites)),
        scenarios=main.planned.scenarios,
        verdict=Verdict.merge(*(_verdict(o) for o in outcomes)).value,
        errors=tuple(line for o in outcomes for line in _error_lines(o)),
        infra_error="; ".join(infra) or None,
        report_dir=main.report_dir,
        runs=tuple(_run_json(o) for o in outcomes),
        fuzz=fuzz_details(outcomes),
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
    verdict = _verdict(outcome)
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
                errors=tuple(_error_lines(outcome, skip=owned - set(names)) or _elsewhere(outcome)),
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
    lines = _error_lines(outcome)
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


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on a shared machine slows every run."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


@dataclass(frozen=True, slots=True)
class Scorecard:
    faults: tuple[FaultScore, ...]
    clean: tuple[CleanScore, ...]
    machine: Mapping[str, object] = field(default_factory=dict)
    quick: bool = False
    seconds: float = 0.0  # the whole selftest, wall clock
    jobs: int = 1

    @classmethod
    def from_outcomes(
        cls,
        outcomes: Iterable[RunOutcome],
        machine: Mapping[str, object],
        quick: bool = False,
        seconds: float = 0.0,
        jobs: int = 1,
    ) -> Scorecard:
        by_fault: dict[str, list[RunOutcome]] = {}
        clean: list[CleanScore] = []
        for outcome in outcomes:
            if outcome.planned.kind == "fault":
                by_fault.setdefault(outcome.planned.name, []).append(outcome)
            else:
                clean.extend(score_clean(outcome))
        faults = tuple(score_fault(_main_first(runs)) for runs in by_fault.values())
        return cls(faults, tuple(clean), dict(machine), quick, seconds, jobs)

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every run (harness, clinic, Locust), whoever else shared the machine:
        divided by the cores, the shortest the selftest could take there."""
        return sum(f.cpu_seconds for f in self.faults) + sum(c.cpu_seconds for c in self.clean)

    @property
    def infra_errors(self) -> list[str]:
        runs: list[tuple[str, str | None]] = [(f.name, f.infra_error) for f in self.faults]
        runs += [(f"clean {c.name}", c.infra_error) for c in self.clean]
        return [f"{name}: {error}" for name, error in runs if error]

    @property
    def undetected(self) -> list[str]:
        return [f.name for f in self.faults if not f.detected]

    @property
    def noisy_clean(self) -> list[str]:
        return [c.name for c in self.clean if c.failed or c.errored]

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
                "seed_count": len({c.seed for c in self.clean}),
                "runs_with_findings": sum(c.failed for c in self.clean),
                "errors": sum(c.errored for c in self.clean),
                "seeds": [c.as_json() for c in self.clean],
            },
            "machine": dict(self.machine),
            "quick": self.quick,
            "seconds": round(self.seconds, 1),
            "jobs": self.jobs,
            "cpu_seconds": round(self.cpu_seconds, 1),
            "runs": len(self.clean) + sum(len(f.runs) for f in self.faults),
            # `chaperone run` processes: clean seeds share them (CLEAN_GROUP to one)
            "processes": len({(c.report_dir, c.part) for c in self.clean})
            + sum(len(f.runs) for f in self.faults),
            "suites": self.suites(),
            "infrastructure_errors": self.infra_errors,
            "passed": self.exit_code() is ExitCode.PASS,
            "exit_code": int(self.exit_code()),
        }


def _main_first(runs: list[RunOutcome]) -> list[RunOutcome]:
    return sorted(runs, key=lambda o: o.planned.part != "main")


def write_scorecard(card: Scorecard, out_dir: Path) -> dict[str, Path]:
    """selftest.json and selftest.html, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = card.as_json()
    return {
        "json": write_atomic(out_dir / "selftest.json", json.dumps(data, indent=1) + "\n"),
        "html": write_atomic(out_dir / "selftest.html", render_html(data)),
    }
