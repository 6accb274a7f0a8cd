"""`chaperone run --suite load --media real --calls N` on the local clinic serving real calls:
each journey user is a headless WebRTC caller, and each Locust process's leak check decodes
the recordings its users fetch (the media oracle) within its budget. Proven both ways: the
clean clinic gives no finding and the recordings were decoded; a misfiled segment is caught in
the recordings' pixels and sound by the load suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from load.checker import OVER_BUDGET

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEDIA_SURFACES = {"media:video", "media:audio"}


def run_load(out: Path, *extra: str, calls: int = 4) -> dict[str, Any]:
    args = ["run", "--suite", "load", "--media", "real", "--calls", str(calls)]
    args += ["--patients", str(calls)]
    # The SLOs have their own tests; a machine shared with other runs must not breach them here.
    args += ["--load-seconds", "40", "--slo-p95", "GET /api/me/recordings=20000"]
    args += ["--slo-p95", "GET /api/recordings/{recording_id}/media=20000"]
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", *args, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ),
    )
    report = out / "report.json"
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def locust_output(out: Path) -> str:
    """The end of what Locust printed: on an overrun, the stacks it was asked for."""
    path = out / "load" / "process-0.out"
    return path.read_text(encoding="utf-8", errors="replace")[-6000:] if path.is_file() else ""


def test_ten_clean_real_calls_under_load_are_live_at_once_give_no_finding_and_are_decoded(
    tmp_path: Path,
) -> None:
    report = run_load(tmp_path, calls=10)
    assert report["errors"] == [], (report["errors"], locust_output(tmp_path))
    assert report["findings"] == []
    metrics = report["metrics"]["load"]
    assert metrics["media_calls"] == 10
    # Every caller connected, all ten at one moment (one call loop per Locust process: when
    # each user started its own, a third of the calls never connected and nothing said so).
    assert metrics["media_calls_unconnected"] == 0
    assert metrics["media_calls_peak"] == 10
    assert metrics["media_items_decoded"] > 0
    # A recording left undecoded for the budget is lost coverage; nothing else may be lost.
    coverage = report["coverage"]
    assert coverage["lost"] == metrics["media_items_over_budget"]
    assert set(coverage["lost_reasons"]) <= {OVER_BUDGET}
    assert report["verdict"] == "pass"


@pytest.mark.parametrize(
    "fault",
    [
        "switch-recording-misattribution",
        # Two calls' tracks crossed in one slow switch: the same proof on another fault.
        pytest.param("switch-race", marks=pytest.mark.proof),
    ],
)
def test_a_misfiled_segment_is_caught_in_the_recordings_by_the_load_suite(
    tmp_path: Path, fault: str
) -> None:
    report = run_load(tmp_path, "--faults", fault)
    in_media = [f for f in report["findings"] if f["surface"]["kind"] in MEDIA_SURFACES]
    assert in_media and {f["check"] for f in in_media} == {"media-canary"}
    assert {f["suite"] for f in in_media} == {"load"}
    assert all(dict(f["extra"]).get("offset") for f in in_media)
    assert report["verdict"] == "fail"
