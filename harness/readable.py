"""Findings as a person reads them where a test failed: one line per exposure.

`Chaperone.look()` returns `Findings`, a list whose repr is those lines, so
`assert chaperone.look(p1) == []` on a leaking build says who saw whose data, what, where and
when, instead of a truncated dataclass repr. The pytest plugin's `pytest_assertrepr_compare`
adds the command that runs the scenario again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from harness.models import Finding

__all__ = ["Findings", "exposure_lines"]


class Findings(list[Finding]):
    """A list of findings (equal to any list with the same findings) that reads well."""

    def __repr__(self) -> str:
        if not self:
            return "Findings([])"
        lines = exposure_lines(self)
        return f"Findings({len(self)}: " + "; ".join(lines) + ")"

    def lines(self) -> list[str]:
        return exposure_lines(self)


def exposure_lines(findings: Iterable[Finding]) -> list[str]:
    """owner -> observer: what, where and when; one line per (owner, observer) pair, and one
    per finding that exposes nobody's data (a 5xx, a foreign list item of an unknown user)."""
    pairs: dict[tuple[str, str], list[Finding]] = {}
    others: list[Finding] = []
    for finding in findings:
        if finding.owner is not None and finding.owner != finding.observer:
            pairs.setdefault((finding.owner, finding.observer), []).append(finding)
        else:
            others.append(finding)
    lines = [_pair_line(owner, observer, seen) for (owner, observer), seen in pairs.items()]
    lines += [f"{f.kind}: {f.message} ({_when(f.time)})" for f in others]
    return lines


# Surfaces named on one line; the rest are counted. pytest cuts an explanation past 640
# characters (without -vv), and a leak seen on every route would push the time off the line.
WHERE_SHOWN = 4
_VARIANT = re.compile(r" \(variant: [^)]*\)$")


def _pair_line(owner: str, observer: str, seen: list[Finding]) -> str:
    what = _unique(_what(f) for f in seen)
    # A request-shape variant of a route is the same place for the reader of a failed test.
    where = _unique(_VARIANT.sub("", str(f.surface)) for f in seen)
    shown = ", ".join(where[:WHERE_SHOWN])
    if len(where) > WHERE_SHOWN:
        shown += f" and {len(where) - WHERE_SHOWN} more"
    first = min(f.time for f in seen)
    return f"{owner} → {observer}: {', '.join(what)} at {shown} ({_when(first)})"


def _what(finding: Finding) -> str:
    label = dict(finding.extra).get("label")
    data = finding.canary_kind or finding.kind
    return f"{data} ({label})" if label else data


def _when(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
