"""The scorecard's rules, on hand-built results: detection needs findings, the clean build must
be silent and error-free, and the exit code follows error > fail > pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flags.selftest import (
    CONCURRENCY_FAULTS,
    FindingTally,
    Scorecard,
    SelftestPlan,
    score_clean,
    score_fault,
    write_scorecard,
)
from harness.errors import ExitCode
from harness.events import FindingRaised
from reports.scorecard_html import render_html
from tests.reports.streams import finding
from tests.selftest.results import clean, fault, run, unfinished

MACHINE = {"cpu_count": 2, "python": "3.11.9", "platform": "Linux"}


def card(faults, cleans) -> Scorecard:  # type: ignore[no-untyped-def]
    return Scorecard.from_outcomes([*faults, *cleans], MACHINE)


def test_fault_with_findings_is_detected_by_the_suites_that_found_it() -> None:
    score = score_fault(fault("recording-idor", run(leaks={"access": 3, "switch": 1})))
    assert score.detected
    assert score.suites == ("switch", "access")
    assert score.findings == 3  # distinct across the run: the switch leak is one of them
    assert dict(score.by_suite) == {"switch": 1, "access": 3}


def test_failed_suite_without_findings_is_not_a_detection() -> None:
    score = score_fault(fault("switch-race", run(fail="stateful")))
    assert score.verdict == "fail"
    assert not score.detected
    assert score.suites == ()


def test_errored_fault_run_without_findings_is_not_a_detection() -> None:
    score = score_fault(fault("switch-race", run(error="target unreachable")))
    assert not score.detected
    assert score.errors == ("access: target unreachable",)


def test_suite_confirming_an_earlier_leak_gets_credit() -> None:
    """The result keeps one record per leak; the access matrix re-finding what the switch suite
    found must still show in the access column."""
    score = score_fault(fault("x", run(leaks={"switch": 2, "access": 2})))
    assert score.findings == 2
    assert dict(score.by_suite) == {"switch": 2, "access": 2}
    assert score.suites == ("switch", "access")


def test_extra_seed_labels_count_as_their_suite() -> None:
    tally = FindingTally()
    events = [
        FindingRaised("switch", finding(owner="p1")),
        FindingRaised("switch@seed=3", finding(owner="p2", suite="switch@seed=3")),
    ]
    assert list(tally.watch(events)) == events
    assert tally.counts() == {"switch": 2}


def test_all_detected_and_clean_silent_passes() -> None:
    scorecard = card(
        [fault("a", run(leaks={"switch": 1})), fault("b", run(leaks={"access": 2}))],
        [clean(0, run()), clean(1, run())],
    )
    assert scorecard.exit_code() is ExitCode.PASS
    assert scorecard.as_json()["passed"] is True


def test_one_missed_fault_fails() -> None:
    scorecard = card([fault("a", run(leaks={"switch": 1})), fault("b", run())], [clean(0, run())])
    assert scorecard.undetected == ["b"]
    assert scorecard.exit_code() is ExitCode.FAIL


def test_clean_run_with_a_finding_fails() -> None:
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(0, run(leaks={"access": 1}))])
    assert scorecard.noisy_clean == [0]
    assert scorecard.exit_code() is ExitCode.FAIL
    assert scorecard.as_json()["clean"]["runs_with_findings"] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    "events", [run(error="boom"), unfinished()], ids=["engine-error", "unfinished"]
)
def test_clean_run_with_an_error_fails(events) -> None:  # type: ignore[no-untyped-def]
    score = score_clean(clean(0, events))
    assert score.errored and not score.failed
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(0, events)])
    assert scorecard.exit_code() is ExitCode.FAIL
    assert scorecard.as_json()["clean"]["errors"] == 1  # type: ignore[index]


def test_clean_run_with_a_failed_slo_fails() -> None:
    score = score_clean(clean(0, run(fail="stateful")))
    assert score.failed and score.findings == 0


def test_infrastructure_error_beats_everything() -> None:
    scorecard = card(
        [fault("a", None, infra="the local clinic exited with code 1"), fault("b", run())],
        [clean(0, run(leaks={"switch": 1}))],
    )
    assert scorecard.exit_code() is ExitCode.ERROR
    assert scorecard.infra_errors == ["a: the local clinic exited with code 1"]
    assert score_fault(fault("a", None, "x")).detected is False


def test_empty_scorecard_is_not_a_pass() -> None:
    assert card([], [clean(0, run())]).exit_code() is ExitCode.FAIL
    assert card([fault("a", run(leaks={"switch": 1}))], []).exit_code() is ExitCode.FAIL


def test_json_shape(tmp_path: Path) -> None:
    scorecard = card(
        [fault("recording-idor", run(leaks={"access": 2}))],
        [clean(0, run()), clean(1, run())],
    )
    paths = write_scorecard(scorecard, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["faults"]["recording-idor"] == {
        "detected": True,
        "suites": ["access"],
        "findings": 2,
        "seconds": 12.0,
        "by_suite": {"access": 2},
        "suites_run": ["switch", "access", "stateful"],
        "verdict": "fail",
        "errors": [],
        "infrastructure_error": None,
        "report_dir": "/out/faults/recording-idor",
    }
    assert {k: data["clean"][k] for k in ("runs", "runs_with_findings", "errors")} == {
        "runs": 2,
        "runs_with_findings": 0,
        "errors": 0,
    }
    assert data["machine"] == MACHINE
    assert data["exit_code"] == 0


def test_html_is_self_contained_and_escaped() -> None:
    scorecard = card([fault("<b>x</b>", run(leaks={"switch": 1}))], [clean(0, run())])
    page = render_html(scorecard.as_json())
    assert "<script" not in page and "http" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "PASS" in page


def test_plan_adds_load_only_where_concurrency_matters() -> None:
    plan = SelftestPlan(faults=("recording-idor", *CONCURRENCY_FAULTS), clean_seeds=(0, 1))
    runs = {r.name: r for r in plan.runs()}
    assert runs["recording-idor"].suites == ("switch", "access", "stateful")
    assert "load" in runs["switch-race"].suites
    assert "load" in runs["seed-0"].suites and "load" not in runs["seed-1"].suites
    assert [r.kind for r in plan.runs()].count("clean") == 2


def test_quick_plan_is_smaller() -> None:
    full, quick = SelftestPlan(faults=("a",)), SelftestPlan(faults=("a",), quick=True)
    small, big = quick.options(["stateful"], 0), full.options(["stateful"], 0)
    assert small.stateful_examples < big.stateful_examples
    assert small.patients < big.patients
    assert "browser" in SelftestPlan(faults=("a",), browser=True).runs()[0].suites
