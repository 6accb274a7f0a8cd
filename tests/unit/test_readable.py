"""`Chaperone.look()`'s findings read as exposures: one line per owner -> observer pair."""

from __future__ import annotations

import calendar

from harness.models import CanaryKind
from harness.readable import Findings
from tests.reports.streams import finding

NOON = float(calendar.timegm((2026, 12, 4, 12, 0, 5)))


def test_one_line_per_exposure_with_what_where_and_when() -> None:
    found = Findings(
        [
            finding("p0", "p1", time=NOON, label="patient notes"),
            finding("p0", "p1", "GET /profile", NOON + 9, kind=CanaryKind.NAME),
            finding("p2", "p1", time=NOON + 1),
            finding(None, "p1", "GET /api/me/appointments", NOON, "p1 sees 3 appointments"),
        ]
    )
    assert found.lines() == [
        "p0 → p1: note (patient notes), name at json:GET /api/me/recordings, json:GET /profile "
        "(12:00:05 UTC)",
        "p2 → p1: note at json:GET /api/me/recordings (12:00:06 UTC)",
        "canary-leak: p1 sees 3 appointments (12:00:05 UTC)",
    ]
    assert repr(found).startswith("Findings(4: p0 → p1: note (patient notes), name at ")
    assert "Finding(check=" not in repr(found)


def test_findings_compare_as_the_list_they_are() -> None:
    assert Findings() == [] and repr(Findings()) == "Findings([])"
    one = finding()
    assert Findings([one]) == [one] and Findings([one]) != []
