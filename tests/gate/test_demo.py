"""The README's main job, run as written: `chaperone demo` must block the incident's bug, pass
the fixed build, enable the flag through the verdict checks, and watch it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flags.backends.local import LocalBackend

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", "demo", "--out", str(out), "--watch-seconds", "20"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    faulty = json.loads((out / "faulty" / "verdict.json").read_text())
    fixed = json.loads((out / "fixed" / "verdict.json").read_text())
    assert faulty["verdict"] == "fail" and faulty["findings"] > 0
    assert fixed["verdict"] == "pass" and fixed["findings"] == 0
    exposures = json.loads((out / "faulty" / "report.json").read_text())["exposures"]
    assert exposures and all(e["owner"] != e["observer"] for e in exposures)
    state = LocalBackend(out / "flags" / "flags-state.json", None).status(
        "video-switch", "development"
    )
    assert state.enabled
    assert "demo: the gate did its job" in done.stdout
    assert "Traceback" not in done.stderr
