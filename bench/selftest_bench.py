"""How long the full default selftest takes (goal: <= 300 s on 2 quiet cores, issue 24), with
its detection figures beside the time, so a faster selftest that catches less is visible as
such.

Runs `python -m chaperone selftest --out DIR/selftest` as a user would, in a subprocess, and
times it end to end; the figures come from the selftest.json it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.childenv import child_env
from selftest.machine import load_average

GOAL_SECONDS = 300.0


def main(out: Path, extra_args: tuple[str, ...] = ()) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    where = out / "selftest"
    argv = [sys.executable, "-m", "chaperone", "selftest", "--out", str(where), *extra_args]
    log = out / "selftest.log"
    load_before = load_average()
    started = time.monotonic()
    with log.open("wb") as sink:
        code = subprocess.run(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=child_env()
        ).returncode
    seconds = round(time.monotonic() - started, 1)
    figures: dict[str, object] = {
        "selftest_seconds": seconds,
        "selftest_goal_seconds": GOAL_SECONDS,
    }
    figures |= {"selftest_exit_code": code, "selftest_load_average_start": load_before}
    try:
        data = json.loads((where / "selftest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return {**figures, "error": f"selftest exited {code}, no selftest.json: {' | '.join(tail)}"}
    figures |= scorecard_figures(data)
    if code == 2:
        # A selftest whose runs could not all be carried out did not measure the selftest.
        figures["error"] = f"selftest exited 2: {'; '.join(data.get('infrastructure_errors', []))}"
    return figures


def scorecard_figures(data: dict[str, Any]) -> dict[str, object]:
    """The detection figures a selftest_seconds is only worth something next to."""
    faults = data.get("faults", {})
    clean = data.get("clean", {})
    return {
        "selftest_faults": len(faults),
        "selftest_faults_detected": sum(1 for f in faults.values() if f.get("detected")),
        "selftest_clean_runs": clean.get("runs", 0),
        "selftest_clean_seeds": clean.get("seed_count", clean.get("runs", 0)),
        "selftest_clean_false_positives": clean.get("runs_with_findings", 0),
        "selftest_clean_errors": clean.get("errors", 0),
        "selftest_jobs": data.get("jobs", 1),
        "selftest_cpu_seconds": data.get("cpu_seconds", 0.0),
        "selftest_runs": data.get("runs", 0),
    }
