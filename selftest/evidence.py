"""What one run's report says, as the scorecard counts it: findings per suite, distinct leaks,
its errors in one line each, and its verdict (a run that exited 2 is an error, whatever its
report says)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Set
from pathlib import Path

from harness.errors import ExitCode
from harness.models import Finding, Verdict
from reports.result import RunResult
from selftest.outcome import RunOutcome


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


def _leak_identity(finding: Finding) -> tuple[str, ...]:
    return (
        finding.check,
        finding.kind,
        finding.owner or "",
        finding.observer,
        str(finding.surface),
    )


def error_lines(outcome: RunOutcome, skip: Set[str] = frozenset()) -> list[str]:
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


def verdict_of(outcome: RunOutcome) -> Verdict:
    if outcome.result is None or outcome.exit_code == int(ExitCode.ERROR):
        return Verdict.ERROR
    return outcome.result.verdict


def run_json(outcome: RunOutcome) -> dict[str, object]:
    planned = outcome.planned
    return {
        "part": planned.part,
        "suites": list(planned.suites),
        "scenarios": list(planned.scenarios),
        "population": dict(planned.population),
        "seeds": list(planned.seeds),
        "seconds": round(outcome.seconds, 1),
        "cpu_seconds": round(outcome.cpu_seconds, 1),
        "verdict": verdict_of(outcome).value,
        "exit_code": outcome.exit_code,
        "findings": len(outcome.result.findings) if outcome.result else 0,
        "report_dir": outcome.report_dir,
        "command": "chaperone run " + " ".join(planned.arguments(Path(outcome.report_dir or "."))),
    }
