"""The scorecard's rules, on hand-built results: detection needs findings, the clean build must
be silent and error-free, and the exit code follows error > fail > pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ExitCode
from reports.scorecard_html import render_html
from selftest.scorecard import Scorecard, write_scorecard
from selftest.scoring import score_clean, score_fault
from tests.selftest.results import clean, fault, run, scattered, unfinished

MACHINE = {"cpu_count": 2, "python": "3.11.9", "platform": "Linux"}


def card(faults, cleans) -> Scorecard:  # type: ignore[no-untyped-def]
    return Scorecard.from_outcomes([*faults, *cleans], MACHINE, seconds=321.0, jobs=2)


def test_fault_with_findings_is_detected_by_the_suites_that_found_it() -> None:
    score = score_fault([fault("recording-idor", run(leaks={"access": 3, "switch": 1}))])
    assert score.detected
    assert score.suites == ("switch", "access")
    assert score.findings == 3  # distinct across the run: the switch leak is one of them
    assert dict(score.by_suite) == {"switch": 1, "access": 3}


def test_failed_suite_without_findings_is_not_a_detection() -> None:
    score = score_fault([fault("switch-race", run(fail="stateful"))])
    assert score.verdict == "fail"
    assert not score.detected
    assert score.suites == ()


def test_errored_fault_run_without_findings_is_not_a_detection() -> None:
    score = score_fault([fault("switch-race", run(error="target unreachable"))])
    assert not score.detected
    assert score.verdict == "error"
    assert score.errors == ("access: target unreachable",)


def test_suite_confirming_an_earlier_leak_gets_credit() -> None:
    """A leak the access matrix re-finds after the switch suite found it must still show in
    the access column, and count once in the total."""
    score = score_fault([fault("x", run(leaks={"switch": 2, "access": 2}))])
    assert score.findings == 2
    assert dict(score.by_suite) == {"switch": 2, "access": 2}
    assert score.suites == ("switch", "access")


def test_extra_seed_labels_count_as_their_suite() -> None:
    score = score_fault([fault("n", run(leaks={"access": 2, "access@seed=1": 3}))])
    assert dict(score.by_suite) == {"access": 5}
    assert score.findings == 5


def test_fuzz_run_fills_the_fuzz_column_and_a_shared_leak_counts_once() -> None:
    main = fault("recording-idor", run(leaks={"access": 2}))
    fuzz = fault("recording-idor", run(leaks={"fuzz": 3}, suites=("fuzz",)), part="fuzz")
    score = score_fault([main, fuzz])
    assert dict(score.by_suite) == {"access": 2, "fuzz": 3}
    assert score.suites_run == ("switch", "access", "stateful", "fuzz")
    assert score.findings == 3  # p10, p11 found by both, p12 by fuzz only
    assert [r["part"] for r in score.runs] == ["main", "fuzz"]
    assert score.report_dir == "/out/faults/recording-idor/main"


def test_fuzz_details_say_what_its_own_traffic_found() -> None:
    metrics = {"leaks_from_schemathesis": 2, "leaks_from_warm_up": 3, "stopped": "time limit"}
    result = run(leaks={"fuzz": 4}, suites=("fuzz",), metrics={"fuzz": metrics})
    score = score_fault([fault("a", run()), fault("a", result, part="fuzz")])
    assert score.fuzz is not None
    assert {k: score.fuzz[k] for k in ("findings", "from_fuzz_traffic", "from_warm_up")} == {
        "findings": 4,
        "from_fuzz_traffic": 2,
        "from_warm_up": 3,
    }
    assert score.fuzz["stopped"] == "time limit"
    assert score_fault([fault("b", run())]).fuzz is None  # no fuzz run, no details


def test_fuzz_alone_finding_it_is_a_detection() -> None:
    main = fault("f", run())
    fuzz = fault("f", run(leaks={"fuzz": 1}, suites=("fuzz",)), part="fuzz")
    assert score_fault([main, fuzz]).detected
    assert not score_fault([main, fault("f", run(suites=("fuzz",)), part="fuzz")]).detected


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


def test_a_fault_scattered_over_more_than_two_root_causes_fails() -> None:
    """Triage's promise over the whole catalog: one planted bug, at most two lines."""
    two, three = scattered(2), scattered(3)
    assert score_fault([fault("a", two)]).root_causes == 2
    ok = card([fault("a", two), fault("b", run(leaks={"switch": 3}))], [clean(0, run())])
    assert ok.exit_code() is ExitCode.PASS and ok.split == []
    assert ok.as_json()["root_causes"] == {"1": 1, "2": 1}
    bad = card([fault("a", three), fault("b", run(leaks={"switch": 1}))], [clean(0, run())])
    assert bad.split == ["a"] and bad.undetected == []
    assert bad.exit_code() is ExitCode.FAIL
    data = bad.as_json()
    assert data["split"] == ["a"] and data["root_causes"] == {"1": 1, "3": 1}
    assert data["faults"]["a"]["root_causes"] == 3
    assert '<span class="fail badge">3</span>' in render_html(data)


def test_clean_run_with_a_finding_fails() -> None:
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(0, run(leaks={"access": 1}))])
    assert scorecard.noisy_clean == ["seed-0"]
    assert scorecard.exit_code() is ExitCode.FAIL
    assert scorecard.as_json()["clean"]["runs_with_findings"] == 1  # type: ignore[index]


def test_clean_fuzz_run_with_a_finding_fails() -> None:
    noisy = clean(0, run(leaks={"fuzz": 1}, suites=("fuzz",)), part="fuzz")
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(0, run()), noisy])
    assert scorecard.noisy_clean == ["seed-0/fuzz"]
    assert scorecard.exit_code() is ExitCode.FAIL


@pytest.mark.parametrize(
    "result", [run(error="boom"), unfinished()], ids=["engine-error", "unfinished"]
)
def test_clean_run_with_an_error_fails(result) -> None:  # type: ignore[no-untyped-def]
    (score,) = score_clean(clean(0, result))
    assert score.errored and not score.failed
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(0, result)])
    assert scorecard.exit_code() is ExitCode.FAIL
    assert scorecard.as_json()["clean"]["errors"] == 1  # type: ignore[index]


def test_clean_run_with_a_failed_slo_fails() -> None:
    (score,) = score_clean(clean(0, run(fail="stateful")))
    assert score.failed and score.findings == 0


def test_exit_code_2_with_a_passing_report_is_an_error() -> None:
    """`chaperone run` said error; a report that reads as a pass does not overrule it."""
    outcome = clean(0, run())
    errored = type(outcome)(outcome.planned, outcome.result, 1.0, "/x", None, 2)
    assert score_clean(errored)[0].errored


def test_infrastructure_error_beats_everything() -> None:
    scorecard = card(
        [fault("a", None, infra="the local clinic exited with code 1"), fault("b", run())],
        [clean(0, run(leaks={"switch": 1}))],
    )
    assert scorecard.exit_code() is ExitCode.ERROR
    assert scorecard.infra_errors == ["a: main: the local clinic exited with code 1"]
    assert score_fault([fault("a", None, "x")]).detected is False


def test_infrastructure_error_in_a_clean_run_is_an_error() -> None:
    scorecard = card(
        [fault("a", run(leaks={"switch": 1}))], [clean(0, None, infra="did not finish")]
    )
    assert scorecard.exit_code() is ExitCode.ERROR
    assert scorecard.infra_errors == ["clean seed-0: did not finish"]


def test_empty_scorecard_is_not_a_pass() -> None:
    assert card([], [clean(0, run())]).exit_code() is ExitCode.FAIL
    assert card([fault("a", run(leaks={"switch": 1}))], []).exit_code() is ExitCode.FAIL


def test_json_shape(tmp_path: Path) -> None:
    scorecard = card(
        [fault("recording-idor", run(leaks={"access": 2}))],
        [clean(0, run()), clean(1, run()), clean(0, run(suites=("load",)), part="load")],
    )
    paths = write_scorecard(scorecard, tmp_path)
    data = json.loads(paths["json"].read_text())
    entry = data["faults"]["recording-idor"]
    runs, entry_cpu = entry.pop("runs"), entry.pop("cpu_seconds")
    assert entry == {
        "detected": True,
        "suites": ["access"],
        "findings": 2,
        "seconds": 12.0,
        "by_suite": {"access": 2},
        "suites_run": ["switch", "access", "stateful"],
        "scenarios": [],
        "verdict": "fail",
        "errors": [],
        "infrastructure_error": None,
        "report_dir": "/out/faults/recording-idor/main",
        "fuzz": None,
        "root_causes": 1,
    }
    assert runs[0]["command"].startswith("chaperone run --suite=switch --suite=access")
    assert runs[0]["exit_code"] == 1 and runs[0]["seeds"] == [0]
    assert {
        k: data["clean"][k] for k in ("runs", "seed_count", "runs_with_findings", "errors")
    } == {
        "runs": 3,
        "seed_count": 2,
        "runs_with_findings": 0,
        "errors": 0,
    }
    assert [s["name"] for s in data["clean"]["seeds"]] == ["seed-0", "seed-1", "seed-0/load"]
    assert data["machine"] == MACHINE
    assert (data["seconds"], data["jobs"], data["runs"]) == (321.0, 2, 4)
    assert data["cpu_seconds"] == 40.0  # 10 CPU-seconds a run
    assert entry_cpu == 10.0 and runs[0]["cpu_seconds"] == 10.0
    assert data["exit_code"] == 0
    assert data["split"] == [] and data["root_causes"] == {"1": 1}


def test_html_is_self_contained_and_escaped() -> None:
    scorecard = card([fault("<b>x</b>", run(leaks={"switch": 1}))], [clean(0, run())])
    page = render_html(scorecard.as_json())
    assert "<script" not in page and "http" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "PASS" in page and "321 s with 2 at a time" in page


def test_html_matrix_has_a_fuzz_column_with_dashes_where_it_did_not_run() -> None:
    metrics = {"fuzz": {"leaks_from_schemathesis": 4, "leaks_from_warm_up": 5}}
    fuzzed = [
        fault("a", run(leaks={"access": 1})),
        fault("a", run(leaks={"fuzz": 7}, suites=("fuzz",), metrics=metrics), part="fuzz"),
    ]
    page = render_html(
        card([*fuzzed, fault("b", run(leaks={"switch": 1}))], [clean(0, run())]).as_json()
    )
    assert "<th>fuzz</th>" in page
    row_b = page.split("<tr><th>b</th>", 1)[1].split("</tr>", 1)[0]
    assert row_b.count("\u2013") == 1  # b had no fuzz run
    row_a = page.split("<tr><th>a</th>", 1)[1].split("</tr>", 1)[0]
    assert ">4</td>" in row_a and ">7</td>" not in row_a  # its own traffic's leaks only


GROUP = ("switch", "access", "stateful", "switch@seed=5", "access@seed=5", "switch@seed=6")
GROUP += ("access@seed=6",)


def test_a_seed_group_scores_each_seed_on_its_own_suites() -> None:
    """Seeds 4-6 in one run: a leak on `access@seed=5` and a failed `switch@seed=6` are those
    seeds' alone; seed 4 (the unlabelled suites) stays clean."""
    result = run(suites=GROUP, leaks={"access@seed=5": 2}, fail="switch@seed=6")
    scores = score_clean(clean(4, result, extra_seeds=2))
    assert [s.name for s in scores] == ["seed-4", "seed-5", "seed-6"]
    assert [(s.findings, s.failed, s.errored) for s in scores] == [
        (0, False, False),
        (2, True, False),
        (0, True, False),
    ]
    assert scores[0].suites_run == ("switch", "access", "stateful")
    assert scores[1].suites_run == ("switch", "access")
    scorecard = card([fault("a", run(leaks={"switch": 1}))], [clean(4, result, extra_seeds=2)])
    assert scorecard.noisy_clean == ["seed-5", "seed-6"]
    data = scorecard.as_json()
    assert data["clean"]["seed_count"] == 3 and data["processes"] == 2  # type: ignore[index]


def test_a_seed_groups_time_is_shared_out_and_adds_up() -> None:
    scores = score_clean(clean(4, run(suites=GROUP), extra_seeds=2))
    assert sum(s.seconds for s in scores) == pytest.approx(12.0)
    assert sum(s.cpu_seconds for s in scores) == pytest.approx(10.0)
    assert scores[0].cpu_seconds > scores[1].cpu_seconds  # seed 4 also ran stateful


@pytest.mark.parametrize(
    "result", [run(suites=GROUP, error="boom"), unfinished(), None], ids=["error", "cut", "none"]
)
def test_an_errored_seed_group_counts_every_seed_as_errored(result) -> None:  # type: ignore[no-untyped-def]
    infra = None if result is not None else "did not finish within 900 s"
    scores = score_clean(clean(4, result, infra=infra, extra_seeds=2))
    assert [s.errored for s in scores] == [True, True, True]
    assert all(s.errors or s.infra_error for s in scores)


def test_a_leak_on_no_seeds_suite_is_pinned_on_the_first() -> None:
    """A finding labelled with a suite no seed owns still fails the group, never vanishes."""
    result = run(suites=GROUP, leaks={"fuzz": 1})
    scores = score_clean(clean(4, result, extra_seeds=2))
    assert [s.failed for s in scores] == [True, False, False]
