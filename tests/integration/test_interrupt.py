"""Ctrl-C mid-run writes a partial report with verdict `error` and keeps every finding so far."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _interrupted_at_first_finding(
    out: Path, preexec_fn: Callable[[], Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """A run of the incident's bug, Ctrl-C'd at its first finding (it must exit 2): what it
    printed after the Ctrl-C, and its report."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaperone", "run", "--faults", "switch-recording-misattribution",
         "--patients", "4", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=preexec_fn,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if "FINDING" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, "".join(seen) + rest
    return rest, json.loads((out / "report.json").read_text())


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_keeps_findings_and_reports_error(tmp_path: Path) -> None:
    rest, report = _interrupted_at_first_finding(tmp_path / "out")
    assert report["verdict"] == "error"
    assert report["interrupted"] is True
    assert report["findings"], "findings gathered before Ctrl-C must be kept"
    assert "Traceback" not in rest


def test_ctrl_c_reaches_a_run_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A shell without job control starts `chaperone ... &` with SIGINT ignored; the run must
    still wind down on it (exit 2, an error report), not run to its end."""
    _rest, report = _interrupted_at_first_finding(tmp_path / "out", _ignore_sigint)
    assert report["interrupted"] is True
