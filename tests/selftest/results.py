"""Hand-built run results and outcomes for the scorecard tests, and a report.json fixture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.events import EngineError, Event, FindingRaised, RunFinished
from harness.models import Verdict
from reports.json_report import write_json
from reports.result import RunCollector, RunResult
from selftest.outcome import RunOutcome
from selftest.plan import PlannedRun
from tests.reports.streams import T0, end, finding, start, suite_ok

SUITES = ("switch", "access", "stateful")
Run = list[Event]


def events(
    *,
    leaks: dict[str, int] | None = None,
    error: str = "",
    fail: str = "",
    suites: Sequence[str] = SUITES,
    metrics: dict[str, dict[str, object]] | None = None,
) -> Run:
    """`leaks` maps a suite label (`switch`, `switch@seed=1`, ...) to how many distinct findings
    it raises. Every suite raises the same leaks first (p10, p11, ...), as suites confirming
    each other do."""
    labels = list(dict.fromkeys([*suites, *(leaks or {})]))
    stream: Run = [start(*labels)]
    for index, name in enumerate(labels):
        count = (leaks or {}).get(name, 0)
        tag = name.partition("@")[2]  # another seed: other actors
        owners = [f"p{n + 10}" + (f"-{tag}" if tag else "") for n in range(count)]
        stream += [FindingRaised(name, finding(owner=owner)) for owner in owners]
        verdict = Verdict.FAIL if count or name == fail else Verdict.PASS
        stream += suite_ok(name, T0 + 3 * index, verdict, metrics=(metrics or {}).get(name, {}))
    if error:
        stream.append(EngineError("access", error, T0 + 9))
    verdict = Verdict.ERROR if error else Verdict.FAIL if leaks or fail else Verdict.PASS
    stream.append(end(verdict))
    return stream


def run(**kw: object) -> RunResult:
    return RunCollector().consume(events(**kw))  # type: ignore[arg-type]


def unfinished() -> RunResult:
    """The engine stopped before RunFinished: an error, never a pass."""
    stream = [e for e in [start(*SUITES), *suite_ok("switch")] if not isinstance(e, RunFinished)]
    return RunCollector().consume(stream)


def _code(result: RunResult | None) -> int | None:
    if result is None:
        return 2
    return {Verdict.PASS: 0, Verdict.FAIL: 1}.get(result.verdict, 2)


def outcome(planned: PlannedRun, result: RunResult | None, infra: str | None = None) -> RunOutcome:
    where = f"/out/{planned.directory}"
    return RunOutcome(planned, result, 12.0, where, infra, _code(result), cpu_seconds=10.0)


def fault(
    name: str, result: RunResult | None, infra: str | None = None, part: str = "main"
) -> RunOutcome:
    suites = ("fuzz",) if part == "fuzz" else SUITES
    return outcome(PlannedRun("fault", name, (name,), suites, 0, part), result, infra)


def clean(
    seed: int,
    result: RunResult | None,
    infra: str | None = None,
    part: str = "main",
    extra_seeds: int = 0,
) -> RunOutcome:
    suites = (part,) if part != "main" else SUITES
    name = f"seeds-{seed}-{seed + extra_seeds}" if extra_seeds else f"seed-{seed}"
    planned = PlannedRun("clean", name, (), suites, seed, part, extra_seeds=extra_seeds)
    return outcome(planned, result, infra)


def report_file(path: Path, result: RunResult) -> Path:
    """report.json exactly as `chaperone run` writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(result, path)


def scattered(causes: int = 3) -> RunResult:
    """One fault's run whose findings triage splits into `causes` root causes: each leaked
    object first shows in another discovering suite."""
    labels = ("switch", "access", "fuzz")[:causes]
    stream: Run = [start(*labels)]
    for index, name in enumerate(labels):
        leak = finding(owner=f"p{index + 10}", suite=name, time=T0 + 1 + 3 * index)
        stream += [FindingRaised(name, leak), *suite_ok(name, T0 + 3 * index, Verdict.FAIL)]
    return RunCollector().consume([*stream, end(Verdict.FAIL)])
