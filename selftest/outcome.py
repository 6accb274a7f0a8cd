"""What became of one planned run."""

from __future__ import annotations

from dataclasses import dataclass

from reports.result import RunResult
from selftest.plan import PlannedRun


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
