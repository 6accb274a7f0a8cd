"""Findings grouped by cause, the way a person triages them.

One bug floods a run: every patient's list shows the misfiled recordings on every look, in
every suite. A group is one (kind, route, surface kind, data kind), and it names the scenario
step where it first appeared; the same leak first met by different suites is still one cause.
Each group is shown once, with its count, the exposures it covers (owner -> observer) and its
shortest reproduction. The console, the HTML report and JUnit (one failing case per group)
all show groups; report.json keeps every finding as well.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.models import Finding, Severity, Step
from reports.result import FindingRecord

__all__ = ["FindingGroup", "cause_step", "group_findings"]

_SEVERITY = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
_PAGE = re.compile(r" \(page \d+\)$")


@dataclass(frozen=True, slots=True)
class FindingGroup:
    key: str
    kind: str
    route: str  # without the page suffix: a leak on page 2 and page 3 is one cause
    surface: str  # surface kind: json, html, media, ws, mail ...
    data: str  # data kind (name, password ...) or "" for structural findings
    step: str  # where it first appeared: "switch-mid-call/switch_to_video", "access/replay"
    severity: Severity
    records: tuple[FindingRecord, ...]
    accepted: bool  # every member is an accepted exposure

    @property
    def count(self) -> int:
        return sum(r.occurrences for r in self.records)

    @property
    def exposures(self) -> tuple[tuple[str, str], ...]:
        pairs = {(r.finding.owner, r.finding.observer) for r in self.records if r.finding.owner}
        return tuple(sorted((o or "", b) for o, b in pairs))

    @property
    def suites(self) -> tuple[str, ...]:
        return tuple(sorted({r.finding.suite.split("@", 1)[0] for r in self.records}))

    @property
    def shortest(self) -> Finding:
        """The member with the shortest reproduction (then the earliest)."""
        return min((r.finding for r in self.records), key=lambda f: (len(f.repro), f.time))

    @property
    def labels(self) -> tuple[str, ...]:
        """The fields the data came from ("book secret"), as the profile names them."""
        found = (dict(r.finding.extra).get("label") or "" for r in self.records)
        return tuple(sorted({label for label in found if label}))

    @property
    def title(self) -> str:
        what = ""
        if self.data:
            named = f" ({', '.join(self.labels)})" if self.labels else ""
            what = f"{self.data}{named} "
        return f"{self.kind}: {what}on {self.surface}:{self.route} (first at {self.step})"


def cause_step(step: str) -> str:
    """A step name without its actor: `switch/switch-mid-call/p3-ab12/switch_to_video` ->
    `switch-mid-call/switch_to_video`; access repeats -> `access/replay`."""
    parts = step.split("/")
    if parts and parts[0] == "access":
        return "access/replay"
    if len(parts) >= 4:
        return f"{parts[1]}/{parts[3]}"
    if len(parts) == 3:
        return f"{parts[0]}/{parts[2]}"
    return step


def group_findings(
    records: Iterable[FindingRecord], accepted: Iterable[str] = ()
) -> list[FindingGroup]:
    """Groups, most severe and most frequent first."""
    accepted_keys = set(accepted)
    buckets: dict[tuple[str, str, str, str], list[FindingRecord]] = {}
    for record in records:
        f = record.finding
        key = (
            f.kind,
            _PAGE.sub("", f.surface.where),
            str(f.surface.kind),
            str(f.canary_kind or ""),
        )
        buckets.setdefault(key, []).append(record)
    groups = [_group(key, members, accepted_keys) for key, members in buckets.items()]
    groups.sort(key=lambda g: (g.accepted, _SEVERITY.get(g.severity, 9), -g.count, g.title))
    return groups


def _group(
    key: tuple[str, str, str, str], members: Sequence[FindingRecord], accepted: set[str]
) -> FindingGroup:
    kind, route, surface, data = key
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:10]
    first = min(members, key=lambda r: r.first_seen)
    step = cause_step(first.finding.step)
    severity = min((r.finding.severity for r in members), key=lambda s: _SEVERITY.get(s, 9))
    return FindingGroup(
        key=digest,
        kind=kind,
        route=route,
        surface=surface,
        data=data,
        step=step,
        severity=severity,
        records=tuple(sorted(members, key=lambda r: r.first_seen)),
        accepted=all(r.key in accepted for r in members),
    )


def repro_text(steps: Sequence[Step]) -> str:
    return "\n".join(f"{i + 1}. {s.actor} {s.action} {s.arg}".rstrip() for i, s in enumerate(steps))
