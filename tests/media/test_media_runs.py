"""`chaperone run --media real` against the local clinic serving real calls: the switch suite's
mid-call switch is played with headless WebRTC callers, and the recordings are judged from
their pixels and sound. The clinic writes no header in real mode, so the byte oracle has
nothing to read in a recording: what is caught there is the media oracle's alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MEDIA_SURFACES = {"media:video", "media:audio"}


def run_real(out: Path, *extra: str) -> dict[str, Any]:
    args = ["run", "--suite", "switch", "--scenario", "switch-mid-call", "--media", "real"]
    args += ["--patients", "3", "--clinicians", "2", "--out", str(out), *extra]
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ),
    )
    report = out / "report.json"
    assert report.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def test_the_incidents_misattribution_is_caught_in_the_recordings_pixels_and_sound(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--faults", "switch-recording-misattribution")
    in_media = [f for f in report["findings"] if f["surface"]["kind"] in MEDIA_SURFACES]
    assert in_media and {f["check"] for f in in_media} == {"media-canary"}
    # No header in a real recording: nothing of the patient is in its bytes.
    assert not [f for f in report["findings"] if f["surface"]["kind"] == "media"]
    assert all(dict(f["extra"]).get("offset") for f in in_media)


def test_a_segment_spliced_with_another_calls_preroll_is_caught_by_the_media_oracle_alone(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--faults", "media-preroll-shared")
    assert report["verdict"] == "fail"
    assert report["findings"]
    assert {(f["check"], f["surface"]["kind"]) for f in report["findings"]} == {
        ("media-canary", "media:audio")
    }


def test_the_clean_clinic_with_real_calls_is_clean_and_fully_read_over_three_seeds(
    tmp_path: Path,
) -> None:
    report = run_real(tmp_path, "--extra-seeds", "2")
    assert report["verdict"] == "pass", report["findings"][:3] or report["errors"]
    assert report["findings"] == []
    assert report["coverage"]["lost"] == 0
