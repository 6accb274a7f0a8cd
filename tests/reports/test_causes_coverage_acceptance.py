"""Findings grouped by cause; coverage that decides the verdict; accepted exposures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from harness.acceptance import AcceptedExposure
from harness.coverage import CoverageRow
from harness.events import CaseFinished, CoverageReported, Event, FindingRaised, WorldSeeded
from harness.models import Verdict
from reports.groups import cause_step, group_findings
from reports.json_report import load_report, write_json
from reports.junit import write_junit
from reports.result import RunCollector
from tests.reports.streams import T0, end, failing_run, finding, start, suite_ok


def _flood(n: int) -> list[Event]:
    """One bug, seen by n observers on every look: n findings, one cause."""
    leaks = [
        finding(observer=f"p{i}", owner="p0", suite="switch", time=T0 + i) for i in range(1, n + 1)
    ]
    return [
        start("switch"),
        *(FindingRaised("switch", f) for f in leaks),
        CaseFinished(
            "switch", "switch-mid-call", Verdict.FAIL, 1.0, "leaks", tuple(f.key for f in leaks)
        ),
        *suite_ok("switch", verdict=Verdict.FAIL)[-1:],
        end(Verdict.FAIL),
    ]


def test_a_flood_of_findings_from_one_bug_is_one_cause() -> None:
    result = RunCollector().consume(_flood(40))
    assert len(result.findings) == 40
    (group,) = group_findings(result.findings)
    assert group.count == 40 and len(group.exposures) == 40
    assert group.step == "switch/switch-to-video"


def test_two_owners_records_first_shown_at_one_step_are_one_cause() -> None:
    """p1's note and p3's name reach p2 at the same step: the same kind of object (a user's
    own record) leaking the same way is one bug, whatever the field."""
    result = RunCollector().consume(failing_run())
    (group,) = group_findings(result.findings)
    assert group.object == "record" and group.owners == ("p1", "p3")
    assert group.count == len(result.findings) == 2


def test_cause_step_drops_the_actor() -> None:
    assert cause_step("switch/switch-mid-call/p3-ab/switch_to_video") == (
        "switch-mid-call/switch_to_video"
    )
    assert cause_step("access/p1->p2") == "access/replay"
    assert cause_step("load/c0-ab/GET /api/clinician/recordings (page 2)") == (
        "load/GET /api/clinician/recordings"
    )
    assert cause_step("stateful/p1-ab/lists") == "stateful/lists"


def _coverage(checked: int, lost: int) -> CoverageReported:
    row = CoverageRow(
        "switch",
        "GET /me",
        "p1",
        "p1",
        checked,
        lost,
        (("HTTP 401 after re-login", lost),) if lost else (),
    )
    return CoverageReported("switch", (row,), retries=2)


def _run_with_coverage(checked: int, lost: int, minimum: float) -> list[Event]:
    return [
        replace(start("switch"), min_coverage=minimum),
        *suite_ok("switch")[:-1],
        _coverage(checked, lost),
        suite_ok("switch")[-1],
        end(),
    ]


def test_coverage_below_the_minimum_is_an_error_never_a_pass() -> None:
    result = RunCollector().consume(_run_with_coverage(70, 30, 0.95))
    assert result.verdict is Verdict.ERROR
    assert any("coverage 70.0% is below the minimum 95%" in r for r in result.reasons)
    assert "401 after re-login" in result.reasons[-1]


def test_a_recording_without_the_code_its_caller_sent_is_an_error_whatever_the_share() -> None:
    from harness.coverage import MISSING_SENT

    silent = CoverageRow(
        "switch",
        "GET /api/recordings/{id}/media",
        "p1",
        "p1",
        0,
        1,
        ((f"{MISSING_SENT} (recording:7 of appointment:p1:0, 0.00-1.00 s)", 1),),
    )
    events = _run_with_coverage(999, 0, 0.95)
    events[-3] = CoverageReported("switch", (*_coverage(999, 0).rows, silent), retries=0)
    result = RunCollector().consume(events)
    assert result.verdict is Verdict.ERROR
    assert result.reasons == (
        "1 stored-media read(s) held none of the code the harness's own caller sent",
    )


def test_full_coverage_passes_and_is_reported(tmp_path: Path) -> None:
    result = RunCollector().consume(_run_with_coverage(100, 0, 0.95))
    assert result.verdict is Verdict.PASS and result.coverage == 1.0
    write_json(result, tmp_path / "report.json")
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["coverage"]["ratio"] == 1.0 and doc["coverage"]["retries"] == 2
    assert doc["coverage"]["rows"][0]["route"] == "GET /me"
    assert load_report(tmp_path / "report.json").coverage == 1.0


def _accepting(expires: date) -> list[AcceptedExposure]:
    return [
        AcceptedExposure(
            route="GET /api/me/*", data="*", reason="known, fix in 2.0", expires=expires
        )
    ]


def test_an_accepted_exposure_is_shown_but_does_not_fail() -> None:
    events = [WorldSeeded(0, (("p1", "user"), ("p2", "user"))), *_flood(3)]
    result = RunCollector(_accepting(date.today() + timedelta(days=30))).consume(events)
    assert result.verdict is Verdict.PASS
    assert len(result.findings) == 3 and all(r.accepted for r in result.findings)
    assert result.failing_findings == ()


def test_an_expired_acceptance_fails_again() -> None:
    result = RunCollector(_accepting(date.today() - timedelta(days=1))).consume(_flood(3))
    assert result.verdict is Verdict.FAIL
    assert not any(r.accepted for r in result.findings)


def test_acceptance_matches_roles_and_data_kind() -> None:
    entry = AcceptedExposure(
        route="GET /api/me/recordings",
        data="name",
        observer_role="clinician",
        reason="why",
        expires=date.today() + timedelta(days=1),
    )
    leak = finding(kind=None)
    assert not entry.matches(leak, {"p2": "clinician"})  # the data kind differs
    named = replace(leak, canary_kind="name")
    assert entry.matches(named, {"p2": "clinician"})
    assert not entry.matches(named, {"p2": "patient"})


def test_junit_marks_accepted_causes_and_not_applicable_cases_as_skipped(tmp_path: Path) -> None:
    events = _flood(2)
    events.insert(
        -2,
        CaseFinished(
            "switch",
            "repeated-switches",
            Verdict.PASS,
            0.0,
            "n/a",
            skipped="not applicable: the profile has no flow join",
        ),
    )
    result = RunCollector(_accepting(date.today() + timedelta(days=1))).consume(events)
    root = ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot()
    skipped = [c.get("name") for c in root.iter("testcase") if c.find("skipped") is not None]
    assert "repeated-switches" in skipped
    assert any(name.startswith("[") for name in skipped)  # the accepted cause
    assert root.find(".//failure") is None and root.find(".//error") is None


def test_the_report_counts_coverage_by_request_shape(tmp_path: Path) -> None:
    rows = (
        CoverageRow("access", "GET /me", "p1", "p1", 3, 0),
        CoverageRow("access", "GET /me (variant: accept)", "p1", "p1", 4, 0),
        CoverageRow("access", "GET /x (variant: accept)", "p1", "p1", 1, 1, (("HTTP 500", 1),)),
        CoverageRow("access", "GET /x (variant: slash)", "p2", "p2", 2, 0),
    )
    events = [
        start("access"),
        *suite_ok("access")[:-1],
        CoverageReported("access", rows),
        suite_ok("access")[-1],
        end(),
    ]
    write_json(RunCollector().consume(events), tmp_path / "report.json")
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["coverage"]["variants"] == {
        "accept": {"checked": 5, "by_other_users": 0, "lost": 1},
        "slash": {"checked": 2, "by_other_users": 0, "lost": 0},
    }
