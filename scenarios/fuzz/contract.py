"""Schemathesis's own checks, reported as their own category: the API contract, not leaks.

A failure of `not_a_server_error` or of a conformance check says the target broke its
document, not that anyone received someone else's data. Each distinct failure (check,
operation, title) is kept once, with the curl command that shows it. `fuzz_contract_checks`
decides whether they fail the suite; either way they are listed as cases and written to
`fuzz/contract.json`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.events import CaseFinished
from harness.models import Finding, Severity, Step, Surface, SurfaceKind, Verdict

__all__ = ["Contract", "ContractFailure"]


@dataclass(frozen=True, slots=True)
class ContractFailure:
    check: str  # Schemathesis's name: not_a_server_error, status_code_conformance ...
    operation: str  # the route
    title: str  # Schemathesis's one-line title ("Undocumented status code")
    actor: str  # who sent the request
    status: int
    curl: str  # redacted

    def finding(self, suite: str) -> Finding:
        kind = SurfaceKind.ERROR if self.status >= 500 else SurfaceKind.OTHER
        return Finding(
            check=f"schemathesis:{self.check}",
            kind="contract",
            severity=Severity.MEDIUM,
            message=f"{self.operation}: {self.title} (Schemathesis {self.check})",
            observer=self.actor,
            surface=Surface(kind, self.operation),
            step=f"{suite}/contract/{self.check}",
            time=time.time(),
            evidence=f"HTTP {self.status}: {self.title}",
            suite=suite,
            repro=(Step(self.actor, "request", self.curl),),
        )


class Contract:
    def __init__(self) -> None:
        self.failures: dict[tuple[str, str, str], ContractFailure] = {}
        self.occurrences: Counter[str] = Counter()  # per check, repeats included

    def add(self, failure: ContractFailure) -> bool:
        """Remember a failure; True the first time this (check, operation, title) is seen."""
        self.occurrences[failure.check] += 1
        key = (failure.check, failure.operation, failure.title)
        if key in self.failures:
            return False
        self.failures[key] = failure
        return True

    def by_check(self) -> dict[str, list[ContractFailure]]:
        grouped: dict[str, list[ContractFailure]] = {}
        for failure in self.failures.values():
            grouped.setdefault(failure.check, []).append(failure)
        return grouped

    def cases(self, suite: str, checks: Iterable[str], required: bool) -> list[CaseFinished]:
        """One case per check: failing when the run requires the contract, else reported."""
        grouped = self.by_check()
        cases = []
        for check in checks:
            found = grouped.get(check, [])
            operations = sorted({f.operation for f in found})
            titles = sorted({f.title for f in found})
            if not found:
                message = "no failure"
            else:
                message = (
                    f"{len(found)} distinct failure(s) ({self.occurrences[check]} in all) on "
                    f"{len(operations)} operation(s), e.g. {operations[0]}: {'; '.join(titles)}"
                )
                if not required:
                    message += " (reported; fuzz_contract_checks is off, so it does not fail)"
            verdict = Verdict.FAIL if found and required else Verdict.PASS
            keys = tuple(f.finding(suite).key for f in found) if required else ()
            cases.append(CaseFinished(suite, f"contract {check}", verdict, 0.0, message, keys))
        return cases

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [asdict(f) for f in self.failures.values()]
        path.write_text(json.dumps({"failures": rows}, indent=1), encoding="utf-8")
        return path
