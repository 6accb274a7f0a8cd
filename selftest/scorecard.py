"""The scorecard over every outcome, and its exit code, decided in this order (error > fail >
pass):

1. exit 2 if any run could not be carried out (the clinic did not start, no report came back);
2. exit 1 if a fault went undetected (no finding at all), a detected fault's targeted run
   came out as more than two root causes (triage scattered one bug), or a clean run found,
   failed or errored;
3. exit 0 otherwise.

selftest.json is its data; selftest.html is drawn from that by reports.scorecard_html.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ExitCode
from reports.files import write_atomic
from reports.scorecard_html import render_html
from selftest.outcome import RunOutcome
from selftest.plan import ordered
from selftest.scoring import CleanScore, FaultScore, score_clean, score_fault


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
    def split(self) -> list[str]:
        return [f.name for f in self.faults if f.split]

    def cause_counts(self) -> dict[str, int]:
        """How many detected faults came out as 1, 2, ... root causes: the triage figure."""
        counts = Counter(f.root_causes for f in self.faults if f.detected)
        return {str(n): counts[n] for n in sorted(counts)}

    @property
    def noisy_clean(self) -> list[str]:
        return [c.name for c in self.clean if c.failed or c.errored]

    def exit_code(self) -> ExitCode:
        if self.infra_errors:
            return ExitCode.ERROR
        if self.undetected or self.split or self.noisy_clean or not self.faults or not self.clean:
            return ExitCode.FAIL
        return ExitCode.PASS

    def suites(self) -> list[str]:
        """Every suite that ran in any fault run, in the usual order: the matrix columns."""
        return ordered(s for f in self.faults for s in f.suites_run)

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
            "undetected": self.undetected,
            "split": self.split,
            "root_causes": self.cause_counts(),
            "noisy_clean": self.noisy_clean,
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
