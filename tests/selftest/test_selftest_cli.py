"""`chaperone selftest` end to end: bad input is one line and exit 2; a quick run over two
planted faults and one clean seed writes a scorecard that catches both and passes the clean
build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAULTS = ("recording-idor", "mail-wrong-recipient")


def selftest(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "chaperone", "selftest", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def test_unknown_fault_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = selftest("--faults-only", "recording-idr", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "unknown fault 'recording-idr' (did you mean 'recording-idor'?)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "selftest.json").exists()


def test_zero_seeds_is_a_usage_error(tmp_path: Path) -> None:
    done = selftest("--seeds", "0", "--out", str(tmp_path))
    assert done.returncode == 2 and "--seeds 1 or more" in done.stderr


def test_zero_jobs_is_a_usage_error(tmp_path: Path) -> None:
    done = selftest("--jobs", "0", "--out", str(tmp_path))
    assert done.returncode == 2 and "--jobs" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_quick_selftest_detects_both_faults_and_passes_clean(tmp_path: Path) -> None:
    """Real `chaperone run` subprocesses against real clinics: recording-idor's targeted run
    and its fuzz-only run, mail-wrong-recipient's switch run, and the clean seed (switch and
    access, and fuzz alone)."""
    done = selftest(
        "--quick", "--faults-only", ",".join(FAULTS), "--seeds", "1", "--out", str(tmp_path)
    )
    log = done.stdout[-3000:] + done.stderr[-2000:]
    data = json.loads((tmp_path / "selftest.json").read_text())
    assert set(data["faults"]) == set(FAULTS)
    for name in FAULTS:
        fault = data["faults"][name]
        assert fault["detected"], (name, log)
        assert fault["findings"] > 0 and fault["suites"]
        assert set(fault["suites"]) <= set(fault["suites_run"])
        assert (Path(fault["report_dir"]) / "report.json").is_file()
    idor, mail = data["faults"]["recording-idor"], data["faults"]["mail-wrong-recipient"]
    assert "access" in idor["suites"] and idor["by_suite"].get("fuzz", 0) > 0, log
    assert idor["suites_run"] == ["switch", "access", "fuzz"]
    assert mail["suites"] == ["switch"] and mail["suites_run"] == ["switch"]
    assert [s["name"] for s in data["clean"]["seeds"]] == ["seed-0", "seed-0/fuzz"]
    assert data["clean"]["seed_count"] == 1
    assert data["clean"]["runs_with_findings"] == 0, log
    assert data["clean"]["errors"] == 0, log
    assert data["jobs"] == min(2, os.cpu_count() or 1) and data["runs"] == 5
    assert data["machine"]["cpu_count"] >= 1
    # Every run and its clinic came from the fork server, none by falling back.
    assert data["machine"]["fork_server"] == "on"
    logs = [p.read_text() for p in tmp_path.glob("*/*/*/chaperone.log")]
    assert len(logs) == 5 and not [t for t in logs if "fork server" in t], logs
    assert done.returncode == 0, log
    assert "2/2 faults detected" in done.stdout.replace("\n", " ")
    assert "[5/5]" in done.stdout
    page = (tmp_path / "selftest.html").read_text()
    assert "recording-idor" in page and "<script" not in page and "<th>fuzz</th>" in page
