"""Exposures: the rows of a breach notification.

The ICO asks which individuals' data was disclosed, to whom, what kind of data, and when. One
row per (owner, observer) pair answers exactly that, merged over every finding that shows the
owner's data reaching the observer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.models import Exposure, Finding


@dataclass
class _Row:
    what: set[str] = field(default_factory=set)
    surfaces: set[str] = field(default_factory=set)
    first_seen: float = float("inf")
    last_seen: float = float("-inf")
    findings: int = 0

    def add(self, finding: Finding) -> None:
        self.what.add(describe(finding))
        self.surfaces.add(str(finding.surface))
        self.first_seen = min(self.first_seen, finding.time)
        self.last_seen = max(self.last_seen, finding.time)
        self.findings += 1


def describe(finding: Finding) -> str:
    """What was seen, in a notification's words: the canary's label, else its kind."""
    label = dict(finding.extra).get("label", "")
    if label:
        return label
    if finding.canary_kind is not None:
        return str(finding.canary_kind)
    return finding.kind


def build_exposures(findings: Iterable[Finding]) -> list[Exposure]:
    """One Exposure per (owner, observer) over all findings, sorted by owner then observer.

    Pass every occurrence (not only deduplicated findings) so first/last seen and the count
    reflect the whole run. Findings about an actor's own data are not exposures.
    """
    rows: dict[tuple[str, str], _Row] = {}
    for finding in findings:
        if finding.is_exposure and finding.owner is not None:
            rows.setdefault((finding.owner, finding.observer), _Row()).add(finding)
    return [
        Exposure(
            owner=owner,
            observer=observer,
            what=tuple(sorted(row.what)),
            surfaces=tuple(sorted(row.surfaces)),
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            findings=row.findings,
        )
        for (owner, observer), row in sorted(rows.items())
    ]
