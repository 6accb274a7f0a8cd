"""Triage on planted bugs, through the real `chaperone run` against the real clinic: each planted
fault's targeted selftest run (the same arguments `chaperone selftest` uses, seed 0) comes out
as at most two root causes, and two distinct bugs planted together stay two causes.

The whole catalog was measured the same way (17 faults: 1 cause, 2 faults: 2); here a subset
covers each way a bug first shows: a mid-call switch with the stateful suite as well, an IDOR
only the access replay reveals, a leak on page 2 over six scenarios, and an e-mail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clinic.faults import catalog
from selftest.catalog import read_catalog
from selftest.plan import PlannedRun, SelftestPlan

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUBSET = (
    "switch-recording-misattribution",
    "recording-idor",
    "list-scope-lost-after-first-page",
    "mail-wrong-recipient",
)


def targeted_run(fault: str) -> PlannedRun:
    plan = SelftestPlan(catalog=read_catalog(catalog()), faults=(fault,), clean_seeds=(0,))
    (main,) = [r for r in plan.runs() if r.kind == "fault" and r.part == "main"]
    return main


def chaperone_run(args: list[str], out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", "run", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert not report["errors"], report["errors"]
    assert report["findings"], output[-3000:]
    causes = report["causes"]
    # Every finding is in exactly one cause: the counts add up to the findings.
    assert sum(c["count"] for c in causes) == len(report["findings"]) > 0
    assert sorted(k for c in causes for k in c["findings"]) == sorted(
        f["key"] for f in report["findings"]
    )
    # The console shows the same causes on top of its summary, one line each.
    assert f"{len(causes)} root cause(s) behind {len(report['findings'])} finding(s)" in output
    junit = (out / "junit.xml").read_text()
    assert junit.count('classname="findings"') == len(causes)
    return report


@pytest.mark.parametrize("fault", SUBSET)
def test_a_planted_fault_is_at_most_two_root_causes(fault: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = chaperone_run(targeted_run(fault).arguments(out), out)
    causes = report["causes"]
    assert 1 <= len(causes) <= 2, [c["title"] for c in causes]


def test_two_bugs_planted_together_stay_two_causes(tmp_path: Path) -> None:
    """The misfiled recordings first show on a switch scenario's look; the IDOR's recordings,
    which nothing listed, first show when the access suite replays someone else's read. Both
    leak patients' appointments and records, on overlapping routes: only the leaked objects
    and where they first showed tell the two bugs apart."""
    out = tmp_path / "out"
    faults = "switch-recording-misattribution,recording-idor"
    args = ["--suite=switch", "--suite=access", "--scenario=switch-mid-call"]
    args += [f"--faults={faults}", "--patients=3", "--clinicians=2", "--seed=0", f"--out={out}"]
    report = chaperone_run(args, out)
    steps = sorted(c["step"] for c in report["causes"])
    assert len(steps) == 2, [c["title"] for c in report["causes"]]
    assert steps[0] == "access/replay" and steps[1].startswith("switch-mid-call/")
    replayed = next(c for c in report["causes"] if c["step"] == "access/replay")
    assert replayed["suites"] == ["access"]
