"""bench's runner: a part that raises is recorded as an error, the others are still written,
and the exit code says something failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import choose, main
from bench.selftest_bench import scorecard_figures


def good(out: Path) -> dict[str, object]:
    return {"oracle_mb_per_s": 123.4, "where": out.name}


def broken(out: Path) -> dict[str, object]:
    raise RuntimeError("the clinic at http://127.0.0.1:1 did not start")


def test_failing_part_is_recorded_and_the_rest_written(tmp_path: Path) -> None:
    code = main(["--out", str(tmp_path)], parts={"oracle": good, "load": broken})
    data = json.loads((tmp_path / "bench.json").read_text())
    assert code == 1
    assert data["oracle_mb_per_s"] == 123.4
    assert data["parts"]["oracle"]["where"] == "oracle"
    assert data["parts"]["load"] == {
        "error": "RuntimeError: the clinic at http://127.0.0.1:1 did not start"
    }
    assert data["failed"] == ["load"]
    assert data["machine"]["cpu_count"] >= 1
    assert "Traceback" in (tmp_path / "load" / "error.txt").read_text()


def test_all_parts_passing_exits_zero(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)], parts={"oracle": good}) == 0
    assert json.loads((tmp_path / "bench.json").read_text())["failed"] == []


def test_only_selects_a_subset_and_rejects_unknown_parts() -> None:
    assert list(choose("oracle, shrink")) == ["oracle", "shrink"]
    assert list(choose(None)) == [
        "oracle",
        "load",
        "gate",
        "shrink",
        "scaling",
        "soak",
        "selftest",
        "media",
    ]
    with pytest.raises(SystemExit, match="unknown part orcale"):
        choose("orcale")


def test_selftest_figures_come_from_its_scorecard() -> None:
    data = {
        "faults": {"a": {"detected": True}, "b": {"detected": False}},
        "clean": {"runs": 22, "seed_count": 20, "runs_with_findings": 1, "errors": 0},
        "jobs": 2,
        "cpu_seconds": 1010.2,
        "runs": 48,
    }
    assert scorecard_figures(data) == {
        "selftest_faults": 2,
        "selftest_faults_detected": 1,
        "selftest_clean_runs": 22,
        "selftest_clean_seeds": 20,
        "selftest_clean_false_positives": 1,
        "selftest_clean_errors": 0,
        "selftest_jobs": 2,
        "selftest_cpu_seconds": 1010.2,
        "selftest_runs": 48,
    }


def test_the_gate_bench_says_what_the_gate_time_bought() -> None:
    from bench.gate_bench import report_figures

    report = {
        "suites": {
            "switch": {"seconds": 31.94, "metrics": {}},
            "access": {"seconds": 16.0, "metrics": {"replays": 3688, "variant_replays": 119}},
            "access@seed=1": {"seconds": 42.3, "metrics": {"replays": 3641}},
            "fuzz": {
                "seconds": 120.1,
                "metrics": {
                    "requests": 1617,
                    "passes": 26,
                    "passes_done": 9,
                    "stopped": "time limit",
                },
            },
        },
        "coverage": {
            "checked": 36562,
            "lost": 0,
            "reads_by_source": {"profile": 18951, "openapi": 708, "crawl": 400, "variants": 46},
            "depth": {"GET /api/me/appointments": {"pages": 21, "rows": 101, "end": True}},
        },
    }
    figures = report_figures(report)
    assert figures["gate_suite_seconds"] == {
        "switch": 31.9,
        "access": 16.0,
        "access@seed=1": 42.3,
        "fuzz": 120.1,
    }
    assert figures["gate_reads_by_source"] == report["coverage"]["reads_by_source"]  # type: ignore[index]
    assert figures["gate_access_replays"] == 3688 + 3641
    assert figures["gate_variant_replays"] == 119
    assert figures["gate_list_depth"] == {
        "GET /api/me/appointments": {"pages": 21, "rows": 101, "end": True}
    }
    assert figures["gate_fuzz_passes_done"] == 9
    assert figures["gate_fuzz_stopped"] == "time limit"
    assert report_figures({})["gate_reads_checked"] == 0  # no report: nothing claimed
