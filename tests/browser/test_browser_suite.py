"""The browser suite against the real clinic in real Chromium, driven by the clinic's profile,
proven both ways."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.config import RunOptions
from harness.coverage import CoverageRow
from harness.engine import RunRequest, run
from harness.errors import InfrastructureError, NoEffect
from harness.events import (
    CaseFinished,
    Event,
    FindingRaised,
    StepFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Finding, Observation, SurfaceKind, Verdict
from harness.profile import load_profile
from reports.result import RunCollector
from scenarios.browser.suite import NO_BROWSER, run_browser
from scenarios.switch import all_scenarios
from tests.browser.conftest import clinic_profile, make_context, run_clinic

pytestmark = pytest.mark.integration

USERS = 3
SCENARIOS = all_scenarios(load_profile("clinic").profile.scenarios)
BROWSER_SCENARIOS = tuple(s.name for s in SCENARIOS if s.browser)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(
    tmp_path: Path,
    faults: str = "",
    scenarios: tuple[str, ...] = (),
    traffic: dict[str, Any] | None = None,
) -> tuple[list[Event], list[CoverageRow]]:
    with (
        run_clinic(tmp_path, faults) as clinic,
        make_context(
            clinic,
            tmp_path / "out",
            browser_users=USERS,
            population={"patient": 4},
            scenarios=scenarios,
        ) as ctx,
    ):
        events = list(run_browser(ctx))
        if traffic is not None:
            traffic["sources"] = ctx.adapter.coverage.sources()
            traffic["found"] = ctx.adapter.coverage.found_routes()
        return events, ctx.adapter.coverage.rows()


def _of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize(
    "fault", ["recordings-unscoped-after-switch", "switch-recording-misattribution"]
)
def test_fault_is_seen_on_the_profile_page(tmp_path: Path, fault: str) -> None:
    # The incident's own scenario is enough to show either fault; the clean test drives them all.
    events, _ = _run(tmp_path, fault, scenarios=("switch-mid-call",))
    findings: list[Finding] = [e.finding for e in _of(events, FindingRaised)]
    on_profile = [
        f
        for f in findings
        if f.surface.kind is SurfaceKind.DOM and f.surface.where == "PAGE /profile"
    ]
    assert on_profile, f"no DOM finding on /profile; got {findings}"
    assert all(f.is_exposure and f.suite == "browser" for f in on_profile)
    assert any(s.action == "switch_to_video" for f in on_profile for s in f.repro)
    if fault == "recordings-unscoped-after-switch":
        # Foreign rows are caught by their owner attribute too, not only by their canaries.
        assert any(f.check == "browser-row-owner" for f in on_profile)
    cases = {c.name: c for c in _of(events, CaseFinished)}
    assert cases["switch-mid-call"].verdict is Verdict.FAIL  # the incident's own scenario
    finished = _of(events, SuiteFinished)[-1]
    assert finished.verdict is Verdict.FAIL
    for finding in on_profile:
        extra = dict(finding.extra)
        shot, trace = Path(extra["screenshot"]), Path(extra["trace"])
        assert shot.read_bytes().startswith(PNG_MAGIC)
        assert trace.stat().st_size > 0
        assert {str(shot), str(trace)} <= set(finished.artifacts)
        assert shot.parent == tmp_path / "out" / "browser"


def test_clean_clinic_passes_every_scenario_it_drives(tmp_path: Path) -> None:
    traffic: dict[str, Any] = {}
    events, coverage = _run(tmp_path, traffic=traffic)
    # The GETs the pages made are reads of source `browser`; the page routes that neither the
    # profile nor the OpenAPI document names join the reads of later looks.
    assert traffic["sources"]["browser"] > 0
    assert traffic["found"].get("GET /consultations/{id}") == "browser"
    assert _of(events, FindingRaised) == []
    finished = _of(events, SuiteFinished)[-1]
    assert finished.verdict is Verdict.PASS
    assert finished.artifacts == ()
    cases = _of(events, CaseFinished)
    ran = [c for c in cases if not c.skipped]
    assert [c.name for c in ran] == list(BROWSER_SCENARIOS)
    assert all(c.verdict is Verdict.PASS for c in ran)
    left_out = {c.name: c.skipped for c in cases if c.skipped}
    bounded = {
        n for n, r in left_out.items() if r.startswith("not run: the browser suite is bounded")
    }
    assert bounded == {"switch-near-end", "concurrent-switch-storm"}
    # The relation scenarios act through the API (withdraw consent, delete, transfer, discharge),
    # which the clinic's pages offer no control for: not applicable, said so, never passed.
    no_control = {n: r for n, r in left_out.items() if n not in bounded}
    assert set(no_control) == {
        "consent-withdrawn",
        "recording-deleted",
        "patient-transferred",
        "care-ended",
    }
    assert all(
        r.startswith("not applicable: the profile's browser section has no control")
        for r in no_control.values()
    )
    assert finished.metrics["scenarios"] == list(BROWSER_SCENARIOS)
    assert finished.metrics["not_run"] == ["switch-near-end", "concurrent-switch-storm"]

    # Every flow was clicked in the page and answered 200: both directions, the end, the rejoin.
    clicks: Counter[tuple[str, str]] = Counter()
    for step in _of(events, StepFinished):
        assert step.status == 200, step  # every login, click and page read
        _, scenario, _, what = step.step.split("/")
        if what != "look" and scenario != "setup":
            clicks[(scenario, what)] += 1
    assert clicks[("switch-back-to-audio", "switch_to_audio")] == USERS
    assert clicks[("repeated-switches", "switch_to_video")] == 2 * USERS
    assert clicks[("rejoin-after-switch", "leave")] == USERS
    assert clicks[("rejoin-after-switch", "join")] == 2 * USERS  # join, then rejoin
    assert clicks[("rejoin-after-switch", "end")] == USERS
    # The progress total announced up front is exactly the steps reported.
    assert _of(events, SuiteStarted)[0].total_steps == len(_of(events, StepFinished))

    # Not vacuous: each patient saw exactly their own recordings, one per switch and per end.
    driven = [s for s in SCENARIOS if s.name in BROWSER_SCENARIOS]
    filed = sum(1 for s in driven for p in s.phases if p.startswith("switch_") or p == "end")
    own = finished.metrics["own_rows"]
    patients = [actor for actor in own if actor.startswith("p")]
    assert len(patients) == USERS and all(own[p] == filed for p in patients), own

    # Every page read counted as checked, none lost, and the profile page was among them.
    assert coverage and all(r.lost == 0 for r in coverage)
    read = {r.route for r in coverage}
    assert {"PAGE /profile", "PAGE /clinician", "PAGE /consultations/{consultation_id}"} <= read


def test_pages_that_never_show_the_owner_their_own_data_are_no_effect(tmp_path: Path) -> None:
    # The positive control: reading a page with nobody's data (the health check) finds no leak,
    # and that must not pass. Only look-around applies here (no flow has a control).
    profile = clinic_profile()
    assert profile.browser is not None
    pages = {"patient": ["/healthz"], "clinician": ["/healthz"]}
    browser = profile.browser.model_copy(update={"pages": pages, "flows": {}})
    blind = profile.model_copy(update={"browser": browser})
    seen: list[Event] = []
    with (
        run_clinic(tmp_path) as clinic,
        make_context(
            clinic, tmp_path / "out", blind, browser_users=2, population={"patient": 2}
        ) as ctx,
        pytest.raises(NoEffect, match="saw none of their own data"),
    ):
        for event in run_browser(ctx):
            seen.append(event)
    assert not _of(seen, FindingRaised)
    skipped = [c for c in _of(seen, CaseFinished) if c.skipped]
    assert skipped and all(c.skipped.startswith("not applicable") for c in skipped)


def test_target_dying_mid_run_is_an_error_after_the_findings(tmp_path: Path) -> None:
    with (
        run_clinic(tmp_path, "switch-recording-misattribution") as clinic,
        make_context(
            clinic, tmp_path / "out", browser_users=USERS, population={"patient": 4}
        ) as ctx,
    ):
        ctx.reseed()
        judge = ctx.judge

        def judge_then_kill(obs: Observation) -> list[Finding]:
            # The run goes on ahead of the consumer, so the target dies from inside it: right
            # after the first leak, with later pages and clicks still to come.
            findings = judge(obs)
            if findings:
                clinic.stop()
            return findings

        ctx.reseed = lambda: ctx.world
        ctx.judge = judge_then_kill
        seen: list[Event] = []
        with pytest.raises(InfrastructureError, match="stopped answering"):
            for event in run_browser(ctx):
                seen.append(event)
    assert _of(seen, FindingRaised)
    assert not _of(seen, SuiteFinished)


def test_a_run_whose_profile_has_no_browser_section_is_an_error(tmp_path: Path) -> None:
    loaded = load_profile("clinic")
    bare = dataclasses.replace(loaded, profile=loaded.profile.model_copy(update={"browser": None}))
    options = RunOptions(suites=("browser",), population={"patient": 2, "clinician": 1})
    with run_clinic(tmp_path) as clinic:
        request = RunRequest(clinic.url, options, tmp_path / "out", clinic.token, profile=bare)
        result = RunCollector().consume(run(request))
    assert result.verdict is Verdict.ERROR
    suite = result.suite("browser")
    assert suite is not None and suite.verdict is Verdict.ERROR
    cases = result.cases_for("browser")
    assert cases and all(c.skipped == NO_BROWSER for c in cases)
    assert not result.findings
