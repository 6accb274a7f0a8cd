"""The request-shape variants' coverage, by kind (slash, accept, query): how many were checked,
how many of those by a user other than the owner (the access suite's repeats), how many lost.

A variant's coverage rows carry its route as `GET /x (variant: accept)`
(harness.client.variants), so this is read from the rows alone, as report.json keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.coverage import CoverageRow

__all__ = ["VariantCount", "variant_counts", "variant_summary"]

_KIND = re.compile(r" \(variant: ([^)]*)\)$")


@dataclass(frozen=True, slots=True)
class VariantCount:
    kind: str
    checked: int
    by_others: int  # of `checked`: read by someone other than the data's owner
    lost: int


def variant_counts(rows: Iterable[CoverageRow]) -> list[VariantCount]:
    """One count per variant kind, in name order; none when no variant was sent."""
    tally: dict[str, list[int]] = {}
    for row in rows:
        match = _KIND.search(row.route)
        if match is None:
            continue
        counts = tally.setdefault(match.group(1), [0, 0, 0])
        counts[0] += row.checked
        counts[1] += row.checked if row.observer != row.owner else 0
        counts[2] += row.lost
    return [VariantCount(kind, *counts) for kind, counts in sorted(tally.items())]


def variant_summary(counts: list[VariantCount]) -> str:
    """`accept 24 checked (16 by other users), slash 6 checked (4 by other users), 1 lost`."""
    parts = [
        f"{c.kind} {c.checked} checked ({c.by_others} by other users)"
        + (f", {c.lost} lost" if c.lost else "")
        for c in counts
    ]
    return "; ".join(parts)
