"""The load suite against the real clinic, with real Locust subprocesses, driven by the clinic's
profile.

The detector is proven both ways: it catches the planted `switch-race` fault and stays silent on
the clean clinic. The suite runs through the real engine; only the suite lookup is pointed at it,
because the `chaperone.suites` entry point is registered by the installed package metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import engine
from harness.config import RunOptions, SloThresholds
from harness.events import (
    CoverageReported,
    EngineError,
    Event,
    FindingRaised,
    RunFinished,
    SuiteFinished,
)
from harness.models import Verdict
from harness.profile import LoadedProfile, load_profile
from harness.profile.model import TargetProfile
from load import runner
from load.suite import run_load
from tests.load.clinic_process import Clinic, clinic_process

pytestmark = pytest.mark.integration

LEAK_KINDS = {"canary-leak", "foreign-recording"}
# The SLO logic has its own unit tests; here CPU is shared with other test runs, so the thresholds
# are wide enough that only a broken clinic, not a busy machine, can breach them.
WIDE_SLO = SloThresholds.model_validate(
    {
        "GET /api/me/recordings": {"p95_ms": 10_000},
        "GET /api/recordings/{recording_id}/media": {"p95_ms": 10_000},
        "max_error_rate": 0.01,
        "min_rps": 5,
    }
)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    with clinic_process(tmp_path_factory.mktemp("faulty"), faults="switch-race") as clinic:
        yield clinic


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    with clinic_process(tmp_path_factory.mktemp("clean")) as clinic:
        yield clinic


@pytest.fixture(autouse=True)
def load_suite_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "load_suite", lambda name: run_load)


def run(
    clinic: Clinic, out: Path, profile: LoadedProfile | None = None, **options: object
) -> list[Event]:
    fields: dict[str, object] = {"load_seconds": 12, "load_users": 12, **options}
    opts = RunOptions(suites=("load",), slo=WIDE_SLO, **fields)  # type: ignore[arg-type]
    request = engine.RunRequest(
        target=clinic.url,
        options=opts,
        out_dir=out,
        support_token=clinic.token,
        profile=profile or load_profile("clinic"),
    )
    return list(engine.run(request))


def suite_result(events: list[Event]) -> SuiteFinished:
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    return done


def coverage(events: list[Event]) -> CoverageReported:
    [reported] = [e for e in events if isinstance(e, CoverageReported)]
    return reported


def test_catches_the_switch_race(faulty: Clinic, tmp_path: Path) -> None:
    events = run(faulty, tmp_path)
    kinds = {e.finding.kind for e in events if isinstance(e, FindingRaised)}
    assert kinds & LEAK_KINDS, suite_result(events).message
    assert suite_result(events).verdict is Verdict.FAIL
    assert isinstance(events[-1], RunFinished)
    assert events[-1].verdict is Verdict.FAIL


def test_clean_clinic_passes_with_no_findings(clean: Clinic, tmp_path: Path) -> None:
    events = run(clean, tmp_path)
    done = suite_result(events)
    assert [e.finding.message for e in events if isinstance(e, FindingRaised)] == []
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert done.verdict is Verdict.PASS, (done.message, errors)
    assert done.metrics["requests"] > 100  # type: ignore[operator]
    assert done.metrics["series"], "the HTML plots need the time series"
    # The users took whole calls: joined, switched, ended (the issue: "never end a call").
    p95 = done.metrics["p95_ms"]
    assert isinstance(p95, dict)
    for route in ("join", "switch", "end"):
        assert f"POST /api/consultations/{{consultation_id}}/{route}" in p95, route
    # What the Locust users read is the suite's coverage: every read checked, none lost.
    rows = coverage(events).rows
    assert {r.suite for r in rows} == {"load"}
    assert sum(r.checked for r in rows) > 50
    assert sum(r.lost for r in rows) == 0
    assert {"GET /api/me/recordings", "GET /api/recordings/{recording_id}/media"} <= {
        r.route for r in rows
    }


def test_two_workers_catch_the_switch_race(faulty: Clinic, tmp_path: Path) -> None:
    events = run(faulty, tmp_path, workers=2)
    done = suite_result(events)
    findings = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert {f.kind for f in findings} & LEAK_KINDS, done.message
    assert done.metrics["workers"] == 2
    # Both workers ran users and judged their responses: the master kept each one's findings.
    files = sorted((tmp_path / "load" / "findings").glob("findings-worker-*.jsonl"))
    assert [f.name for f in files] == ["findings-worker-0.jsonl", "findings-worker-1.jsonl"]
    assert done.verdict is Verdict.FAIL
    assert sum(r.checked for r in coverage(events).rows) > 50


def test_a_load_user_that_crashes_makes_the_run_an_error(clean: Clinic, tmp_path: Path) -> None:
    """A read the users cannot even build (a placeholder nothing fills: `recording` is in
    scope only in an `each: recording` read) is not a quieter pass: that share of the workload
    never happened."""
    loaded = load_profile("clinic")
    document = loaded.profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["reads"].append({"name": "broken", "get": "/api/me?x={{recording.here}}"})
    document["load"]["reads"].append({"read": "broken", "weight": 50})
    broken = LoadedProfile(TargetProfile.model_validate(document), loaded.path, loaded.digest)
    events = run(clean, tmp_path, broken, load_seconds=6, load_users=4)
    [error] = [e.message for e in events if isinstance(e, EngineError)]
    assert "a load user crashed: ConfigError: placeholder {{recording.here}}" in error
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    assert done.verdict is Verdict.ERROR


def test_a_run_past_its_deadline_leaves_the_stacks_of_locusts_threads(
    clean: Clinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Locust that overran its deadline is stopped, and what it was doing is on record: the
    locustfile writes every thread's stack on the harness's signal (else the signal kills it
    and its output holds nothing)."""
    monkeypatch.setattr(runner, "_STARTUP_GRACE", 0.0)
    monkeypatch.setattr(runner, "_STOP_GRACE", -6.0)  # a 6 s deadline for a 12 s run
    events = run(clean, tmp_path)
    [error] = [e.message for e in events if isinstance(e, EngineError)]
    assert "Locust did not finish within 6 s (its last log line: " in error, error
    assert "process-0.out" in error
    stacks = (tmp_path / "load" / "process-0.out").read_text(encoding="utf-8")
    # Not only the hub's thread: the greenlets (Locust's users and runner) are on record too.
    assert "most recent call first" in stacks and "locust/runners.py" in stacks, stacks[-2000:]
    assert suite_result(events).verdict is Verdict.ERROR
