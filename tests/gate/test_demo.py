"""The README's main job, run as written: `chaperone demo` must block the incident's bug, pass
the fixed build, enable the flag through the verdict checks, and watch it."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.async_api import Page

from flags.backends.local import LocalBackend
from tests.browser.test_report_html import artifacts, in_chromium, summary_fits_the_first_screen

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def predicate(path: Path) -> dict:
    return json.loads(base64.b64decode(json.loads(path.read_text())["payload"]))["predicate"]


def test_demo_tells_the_whole_story(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "chaperone", "demo", "--out", str(out), "--watch-seconds", "20"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    faulty, fixed = (predicate(out / name / "verdict.json") for name in ("faulty", "fixed"))
    assert faulty["result"] == "fail" and faulty["findings"] > 0
    assert fixed["result"] == "pass" and fixed["findings"] == 0
    assert fixed["reference"] is True  # the bundled clinic: enables development only
    exposures = json.loads((out / "faulty" / "report.json").read_text())["exposures"]
    assert exposures and all(e["owner"] != e["observer"] for e in exposures)
    backend = LocalBackend(out / "flags" / "flags-state.json")
    assert backend.status("video-switch", "development").enabled
    assert backend.pin("video-switch") == fixed["policy"]["digest"]["sha256"]
    assert "demo: the gate did its job" in done.stdout
    # Off a TTY (captured here) the audit table's "when" column read `2026-12-…`.
    summary = done.stdout.split("summary", 1)[1]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", summary), summary
    assert "…" not in summary
    assert "Traceback" not in done.stderr
    # The failing gate's report, as the release manager opens it: its summary is one screen,
    # and the incident's one bug at most two lines under every suite of the demo policy (it
    # was 4: load, stateful and browser each first showed other appointments of the bug).
    report = out / "faulty" / "report.html"
    shot = artifacts() / "demo-faulty-summary-1280x800.png"

    async def check(page: Page) -> None:
        await page.screenshot(path=str(shot))
        await summary_fits_the_first_screen(page, causes=2)

    assert in_chromium(report, check) == [report.as_uri()]
