"""Coverage: which reads were really checked, as whom, about whose data.

"No finding" must mean "looked and saw the right data". A read that got a 401 a re-login could
not cure, a 5xx, a timeout or nothing at all proves nothing, so it is counted as lost, never as
clean. Every read the harness makes is recorded here under (route, observer, owner):

    checked   the observer had a live session and the target answered (2xx, 3xx, or a 4xx
              denial confirmed by a session check)
    lost      the answer proves nothing (reason kept: 401 after re-login, 5xx, timeout ...)

The verdict is `error` when the checked share falls below the policy's `min_coverage`, or when
any read lacked what the harness itself sent (`MISSING_SENT`), whatever the share.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "MISSING_FILMED",
    "MISSING_SENT",
    "Coverage",
    "CoverageRow",
    "ListDepth",
    "missing_sent",
]

# A lost reason starting so: the read should have held what the harness's own callers sent and
# held none of it. No share of other reads may hide one: recordings are a handful among hundreds
# of reads, and a clinic recording silence for every call stays above a 95 % checked share.
MISSING_SENT = "media:audio without the code its caller sent"
# ...and its pictures: a call whose caller's camera was on, none of whose recordings held one.
MISSING_FILMED = "media:video without the camera its caller sent"


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """How often `observer` read `route` about `owner`'s data, and what came of it."""

    suite: str
    route: str
    observer: str
    owner: str
    checked: int
    lost: int
    reasons: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ListDepth:
    """How deep a list (or an export) was read, over a run: the most pages one walk took, the
    most rows one walk read, how many walks there were and how many a page bound stopped
    before the end (lost coverage, never clean)."""

    route: str
    pages: int
    rows: int
    walks: int = 1
    capped: int = 0

    @property
    def end(self) -> bool:
        """Every walk reached the list's last page."""
        return self.capped == 0

    def merged(self, other: ListDepth) -> ListDepth:
        return ListDepth(
            self.route,
            max(self.pages, other.pages),
            max(self.rows, other.rows),
            self.walks + other.walks,
            self.capped + other.capped,
        )


class Coverage:
    """A thread-safe tally. Suites share one per run; each suite's rows are reported with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked: Counter[tuple[str, str, str, str]] = Counter()
        self._lost: Counter[tuple[str, str, str, str]] = Counter()
        self._reasons: dict[tuple[str, str, str, str], Counter[str]] = {}
        # Reads by where the harness learnt of them (profile, openapi, crawl, browser, har),
        # per suite; and the routes found outside the profile and the document, with their
        # source, for the report to list so a user can add them.
        self._sources: Counter[tuple[str, str]] = Counter()
        self._found: dict[str, str] = {}
        self._bounds: dict[str, int] = {}  # what a bound cut or a filter refused, by name
        self._depth: dict[str, ListDepth] = {}  # how deep each list was walked, by route
        # The label reads are counted under. A context variable, not a field: two suites may
        # run at once (the engine's TOGETHER), each in its own thread, and the coroutines a
        # suite sends to the run's loop carry its thread's context along.
        self._suite: ContextVar[str] = ContextVar(f"coverage-suite-{id(self)}", default="")

    @property
    def suite(self) -> str:
        return self._suite.get()

    @suite.setter
    def suite(self, label: str) -> None:
        self._suite.set(label)

    def checked(self, route: str, observer: str, owner: str) -> None:
        with self._lock:
            self._checked[(self.suite, route, observer, owner)] += 1

    def lost(self, route: str, observer: str, owner: str, reason: str) -> None:
        key = (self.suite, route, observer, owner)
        with self._lock:
            self._lost[key] += 1
            self._reasons.setdefault(key, Counter())[reason] += 1

    def read_from(self, source: str, count: int = 1) -> None:
        with self._lock:
            self._sources[(self.suite, source)] += count

    def found(self, route: str, source: str) -> None:
        with self._lock:
            self._found.setdefault(route, source)

    def sources(self, suite: str | None = None) -> dict[str, int]:
        """Reads per source, of one suite or all."""
        counts: Counter[str] = Counter()
        with self._lock:
            for (label, source), n in self._sources.items():
                if suite is None or label == suite:
                    counts[source] += n
        return dict(sorted(counts.items()))

    def bound(self, name: str, value: int) -> None:
        """A run-wide figure of a bounded search (links the crawl's bounds cut, ...)."""
        with self._lock:
            self._bounds[name] = value

    def walked(self, route: str, pages: int, rows: int, end: bool) -> None:
        """One list walk (or one export read whole): its pages, its rows, whether it ended."""
        depth = ListDepth(route, pages, rows, 1, 0 if end else 1)
        with self._lock:
            known = self._depth.get(route)
            self._depth[route] = depth if known is None else known.merged(depth)

    def depths(self) -> dict[str, ListDepth]:
        with self._lock:
            return dict(sorted(self._depth.items()))

    def bounds(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._bounds.items()))

    def found_routes(self) -> dict[str, str]:
        """Routes discovered outside the profile and the OpenAPI document -> their source."""
        with self._lock:
            return dict(sorted(self._found.items()))

    def rows(self, suite: str | None = None) -> list[CoverageRow]:
        with self._lock:
            keys = sorted(set(self._checked) | set(self._lost))
            return [
                CoverageRow(
                    *key,
                    checked=self._checked[key],
                    lost=self._lost[key],
                    reasons=tuple(sorted(self._reasons.get(key, Counter()).items())),
                )
                for key in keys
                if suite is None or key[0] == suite
            ]

    def absorb(self, rows: Iterable[CoverageRow]) -> None:
        """Add rows counted elsewhere (a Locust worker, a browser page)."""
        with self._lock:
            for row in rows:
                key = (row.suite, row.route, row.observer, row.owner)
                self._checked[key] += row.checked
                if row.lost:
                    self._lost[key] += row.lost
                    self._reasons.setdefault(key, Counter()).update(dict(row.reasons))


def ratio(rows: Iterable[CoverageRow]) -> float | None:
    """Checked share of all recorded reads; None when nothing was read at all."""
    checked = lost = 0
    for row in rows:
        checked += row.checked
        lost += row.lost
    total = checked + lost
    return None if total == 0 else checked / total


def lost_reasons(rows: Iterable[CoverageRow]) -> Mapping[str, int]:
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(dict(row.reasons))
    return dict(counts)


def missing_sent(rows: Iterable[CoverageRow]) -> int:
    """Lost reads that held none of what the harness's own callers sent (`MISSING_SENT`,
    `MISSING_FILMED`)."""
    missing = (MISSING_SENT, MISSING_FILMED)
    return sum(n for reason, n in lost_reasons(rows).items() if reason.startswith(missing))
