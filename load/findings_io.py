"""Findings as JSON lines: how Locust processes hand what their leak checks found to the harness.

Each process appends to its own file, so no two writers ever share one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.models import CanaryKind, Finding, Severity, Step, Surface, SurfaceKind


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "kind": finding.kind,
        "severity": str(finding.severity),
        "message": finding.message,
        "observer": finding.observer,
        "surface": {"kind": str(finding.surface.kind), "where": finding.surface.where},
        "step": finding.step,
        "time": finding.time,
        "owner": finding.owner,
        "canary_kind": None if finding.canary_kind is None else str(finding.canary_kind),
        "evidence": finding.evidence,
        "suite": finding.suite,
        "extra": [list(pair) for pair in finding.extra],
        "repro": [[s.actor, s.action, s.arg] for s in finding.repro],
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    canary_kind = data.get("canary_kind")
    return Finding(
        check=str(data["check"]),
        kind=str(data["kind"]),
        severity=Severity(data["severity"]),
        message=str(data["message"]),
        observer=str(data["observer"]),
        surface=Surface(SurfaceKind(data["surface"]["kind"]), str(data["surface"]["where"])),
        step=str(data["step"]),
        time=float(data["time"]),
        owner=data.get("owner"),
        canary_kind=None if canary_kind is None else CanaryKind(canary_kind),
        evidence=str(data.get("evidence", "")),
        suite=str(data.get("suite", "")),
        extra=tuple((str(k), str(v)) for k, v in data.get("extra", ())),
        repro=tuple(Step(str(a), str(b), str(c)) for a, b, c in data.get("repro", ())),
    )


class FindingsTail:
    """Reads the findings files of a directory incrementally, while their writers still append.

    Only complete lines are consumed: a writer may be half-way through a line.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._offsets: dict[Path, int] = {}

    def read_new(self) -> list[Finding]:
        found: list[Finding] = []
        for path in sorted(self._directory.glob("findings-*.jsonl")):
            found += self._read_file(path)
        return found

    def _read_file(self, path: Path) -> list[Finding]:
        offset = self._offsets.get(path, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offsets[path] = offset + len(complete)
        return [finding_from_json(json.loads(line)) for line in complete.splitlines() if line]
