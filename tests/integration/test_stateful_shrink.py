"""The stateful suite on the real clinic: it catches the 2020 misattribution on its own, and
`--shrink-seconds` decides whether the failure is shrunk (the selftest sets 0: it asks only
whether a fault is caught, and shrinking took 30 s of each of its stateful runs).

Through the real `chaperone run` command, so the option's path from the CLI is proven too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_detection import chaperone

pytestmark = pytest.mark.integration

FAULT = "switch-recording-misattribution"


def _stateful(out: Path, *extra: str) -> tuple[int, dict[str, object], list[str], str]:
    done = chaperone(
        "run", "--faults", FAULT, "--suite", "stateful", "--patients", "3",
        "--clinicians", "2", "--out", str(out), *extra,
    )  # fmt: skip
    output = done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    steps = (out / "stateful-repro.txt").read_text().splitlines()
    return done.returncode, report, steps, output


def test_the_stateful_suite_catches_the_misattribution_and_shrinks_it(tmp_path: Path) -> None:
    # Room for the shrink to finish on a busy box: within the default 30 s it stood at 15
    # steps while the rest of the suite ran beside it (6 when given 120 s, in about 80 s).
    code, report, steps, output = _stateful(tmp_path / "shrunk", "--shrink-seconds", "120")
    assert code == 1, output
    assert report["verdict"] == "fail"
    suite = report["suites"]["stateful"]  # type: ignore[index]
    assert suite["metrics"]["shrink_steps"] == len(steps)
    # A join, a switch and an end by one patient, and a look by the other, at least; shrinking
    # leaves little beside them (the first failure found runs up to 12 steps per example).
    assert 4 <= len(steps) <= 8, steps
    assert "Traceback" not in output


def test_with_no_time_to_shrink_the_first_failure_stands(tmp_path: Path) -> None:
    code, report, steps, output = _stateful(tmp_path / "first", "--shrink-seconds", "0")
    assert code == 1, output
    assert report["verdict"] == "fail" and report["findings"]
    suite = report["suites"]["stateful"]  # type: ignore[index]
    assert suite["metrics"]["shrink_steps"] == len(steps) >= 4
    # Never called minimal: nothing shrank it.
    assert "shortest reproduction found" in suite["message"], suite["message"]
    assert "minimal reproduction" not in suite["message"]
