"""The browser suite against the real clinic in real Chromium, proven both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from harness.events import CaseFinished, Event, FindingRaised, StepFinished, SuiteFinished
from harness.models import Finding, Observation, SurfaceKind, Verdict
from scenarios.browser.suite import run_browser
from tests.browser.conftest import make_context, run_clinic

pytestmark = pytest.mark.integration

USERS = 3
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, faults: str = "") -> list[Event]:
    with (
        run_clinic(tmp_path, faults) as clinic,
        make_context(clinic, tmp_path / "out", browser_users=USERS, patients=4) as ctx,
    ):
        return list(run_browser(ctx))


def _of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


@pytest.mark.parametrize(
    "fault", ["recordings-unscoped-after-switch", "switch-recording-misattribution"]
)
def test_fault_is_seen_on_the_profile_recordings_list(tmp_path: Path, fault: str) -> None:
    events = _run(tmp_path, fault)
    findings = [e.finding for e in _of(events, FindingRaised)]
    on_profile = [
        f
        for f in findings
        if f.surface.kind is SurfaceKind.DOM and f.surface.where == "PAGE /profile"
    ]
    assert on_profile, f"no DOM finding on /profile; got {findings}"
    assert all(f.is_exposure and f.suite == "browser" for f in on_profile)
    assert any(s.action == "switch" for f in on_profile for s in f.repro)
    finished = _of(events, SuiteFinished)[-1]
    assert finished.verdict is Verdict.FAIL
    for finding in on_profile:
        extra = dict(finding.extra)
        shot, trace = Path(extra["screenshot"]), Path(extra["trace"])
        assert shot.read_bytes().startswith(PNG_MAGIC)
        assert trace.stat().st_size > 0
        assert {str(shot), str(trace)} <= set(finished.artifacts)
        assert shot.parent == tmp_path / "out" / "browser"


def test_clean_clinic_passes_after_the_full_flow(tmp_path: Path) -> None:
    events = _run(tmp_path)
    assert _of(events, FindingRaised) == []
    finished = _of(events, SuiteFinished)[-1]
    assert finished.verdict is Verdict.PASS
    assert finished.artifacts == ()
    cases = _of(events, CaseFinished)
    assert len(cases) >= USERS and all(c.verdict is Verdict.PASS for c in cases)
    steps = {e.step.rsplit("/", 1)[-1]: e.status for e in _of(events, StepFinished)}
    assert all(steps[s] == 200 for s in ("join", "switch", "end", "profile"))
    # Not vacuous: each patient saw exactly their own audio and video recordings.
    seen = finished.metrics["recordings_seen"]
    patients = [c.name.split("/")[1] for c in cases if c.name.split("/")[1].startswith("p")]
    assert len(patients) == USERS
    assert all(seen[p] == 2 for p in patients), seen


def test_target_dying_mid_run_is_an_error_after_the_findings(tmp_path: Path) -> None:
    with (
        run_clinic(tmp_path, "switch-recording-misattribution") as clinic,
        make_context(clinic, tmp_path / "out", browser_users=USERS, patients=4) as ctx,
    ):
        ctx.reseed()
        judge = ctx.judge

        def judge_then_kill(obs: Observation) -> list[Finding]:
            # The flow runs ahead of the consumer, so the target dies from inside it: right
            # after the first leak, with later pages (the clinicians') still to load.
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
