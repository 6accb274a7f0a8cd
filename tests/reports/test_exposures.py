from __future__ import annotations

from harness.models import CanaryKind
from reports.exposures import build_exposures
from reports.result import RunCollector
from tests.reports.streams import T0, failing_run, finding


def test_one_row_per_owner_observer_sorted_by_owner() -> None:
    rows = build_exposures(
        [
            finding(owner="p3", observer="p2", time=T0 + 5, kind=CanaryKind.NAME),
            finding(owner="p1", observer="p2", time=T0 + 3),
            finding(owner="p1", observer="p2", time=T0 + 1, where="GET /api/appointments"),
            finding(owner="p1", observer="c1", time=T0 + 2, label="consultation note"),
        ]
    )
    assert [(e.owner, e.observer) for e in rows] == [("p1", "c1"), ("p1", "p2"), ("p3", "p2")]
    p1_p2 = rows[1]
    assert p1_p2.findings == 2
    assert (p1_p2.first_seen, p1_p2.last_seen) == (T0 + 1, T0 + 3)
    assert p1_p2.surfaces == ("json:GET /api/appointments", "json:GET /api/me/recordings")
    assert p1_p2.what == ("note",)
    assert rows[0].what == ("consultation note",)
    assert rows[2].what == ("name",)


def test_own_data_and_ownerless_findings_are_not_exposures() -> None:
    assert build_exposures([finding(owner="p1", observer="p1"), finding(owner=None)]) == []


def test_collector_counts_every_occurrence() -> None:
    result = RunCollector().consume(failing_run())
    p1 = next(e for e in result.exposures if e.owner == "p1")
    assert p1.findings == 2 and p1.last_seen == T0 + 4
