from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.events import (
    EngineError,
    Event,
    FindingRaised,
    RunFinished,
    SuiteFinished,
    SuiteStarted,
)
from harness.models import Verdict
from harness.suites import RunContext
from tests.unit.inprocess import run_inprocess

FAST = dict(population={"patient": 3, "clinician": 2, "appointment": 10})


def verdict_of(events: list[Event]) -> Verdict:
    last = events[-1]
    assert isinstance(last, RunFinished)
    return last.verdict


def test_clean_clinic_passes_switch_and_access(tmp_path: Path) -> None:
    events = run_inprocess(tmp_path, RunOptions(suites=("switch", "access"), **FAST))
    assert [e for e in events if isinstance(e, FindingRaised)] == []
    assert verdict_of(events) is Verdict.PASS
    assert (tmp_path / "out" / "world.json").exists()


def test_too_few_calls_for_the_scenarios_is_a_clear_error(tmp_path: Path) -> None:
    # Ten multi-step scenarios each need a fresh call; six would replay ended calls.
    options = RunOptions(
        suites=("switch",), population={"patient": 2, "clinician": 1, "appointment": 6}
    )
    events = run_inprocess(tmp_path, options)
    errors = [e.message for e in events if isinstance(e, EngineError)]
    assert any("need a fresh appointment per owner, but owners have 6" in m for m in errors)
    assert any("--scenario" in m for m in errors)
    assert verdict_of(events) is Verdict.ERROR


@pytest.mark.parametrize(
    ("fault", "suite"),
    [("recording-idor", "access"), ("switch-recording-misattribution", "switch")],
)
def test_planted_fault_is_found_by_its_suite(tmp_path: Path, fault: str, suite: str) -> None:
    # The incident's scenario and a look are enough for either fault to show.
    two = ("switch-mid-call", "look-around")
    options = RunOptions(suites=("switch", "access"), scenarios=two, **FAST)
    events = run_inprocess(tmp_path, options, frozenset({fault}))
    found = [e.finding for e in events if isinstance(e, FindingRaised)]
    assert any(f.suite == suite and f.owner != f.observer for f in found)
    assert verdict_of(events) is Verdict.FAIL


def test_unreachable_target_is_an_error_never_a_pass(tmp_path: Path) -> None:
    request = RunRequest("http://127.0.0.1:9", RunOptions(suites=("switch",)), tmp_path, "t")
    events = list(run(request))
    assert any(isinstance(e, EngineError) and "did not answer" in e.message for e in events)
    assert verdict_of(events) is Verdict.ERROR


def _fake_suite(behaviour: str):  # type: ignore[no-untyped-def]
    def suite(ctx: RunContext) -> Iterator[Event]:
        yield SuiteStarted("fake", None, 0.0)
        if behaviour == "raise":
            raise ValueError("boom")
        if behaviour == "hang":
            ctx.cancel.wait(30)
            ctx.cancel.raise_if_cancelled()
        if behaviour == "silent":
            return
        yield SuiteFinished("fake", Verdict.PASS, 0.0, 0.0)

    return suite


@pytest.mark.parametrize("behaviour", ["raise", "hang", "silent"])
def test_a_broken_suite_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    monkeypatch.setattr("harness.engine.load_suite", lambda name: _fake_suite(behaviour))
    options = RunOptions(suites=("switch",), timeout_seconds=1.0, **FAST)
    events = run_inprocess(tmp_path, options)
    assert any(isinstance(e, EngineError) for e in events)
    assert verdict_of(events) is Verdict.ERROR


def test_a_passing_fake_suite_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.engine.load_suite", lambda name: _fake_suite("pass"))
    events = run_inprocess(tmp_path, RunOptions(suites=("switch",), **FAST))
    assert verdict_of(events) is Verdict.PASS


def test_extra_seeds_repeat_scenario_suites_under_their_own_label(tmp_path: Path) -> None:
    # Two scenarios are enough to see both seeds run; all fourteen cost CI half a minute.
    two = ("switch-mid-call", "look-around")
    options = RunOptions(suites=("switch",), extra_seeds=(5,), scenarios=two, **FAST)
    events = run_inprocess(tmp_path, options)
    finished = [e.suite for e in events if isinstance(e, SuiteFinished)]
    assert finished == ["switch", "switch@seed=5"]
    assert verdict_of(events) is Verdict.PASS
