"""How long the full gate takes on the clean local clinic with the release policy
(flags/policies/video-switch.yaml: 20 patients, 4 clinicians, 3 seeds, every suite; goal:
<= 180 s on 2 cores).

Runs `python -m chaperone gate --build bench` as a user would, in a subprocess, with a
throwaway signing key, and times it end to end (clinic start-up included). The per-suite
seconds come from the gate's report.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from flags.keys import SIGNING_KEY_ENV, new_signing_key
from selftest.machine import load_average


def _suite_seconds(report: Path) -> dict[str, float]:
    try:
        suites = json.loads(report.read_text(encoding="utf-8"))["suites"]
    except (OSError, ValueError, KeyError):
        return {}
    return {name: round(float(s["seconds"]), 1) for name, s in suites.items()}


GOAL_SECONDS = 180.0


def main(out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "chaperone", "gate", "--build", "bench", "--out", str(out)]
    env = {**os.environ, SIGNING_KEY_ENV: new_signing_key().pem().decode()}
    log = out / "gate.log"
    # The VM's speed swings with its neighbours and with what the previous bench part left
    # running: the load average at the start says which kind of minute this figure came from.
    load_before = load_average()
    started = time.monotonic()
    with log.open("wb") as sink:
        code = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, env=env).returncode
    seconds = round(time.monotonic() - started, 1)
    figures: dict[str, object] = {
        "gate_seconds_release_policy": seconds,
        "gate_seconds_clean": seconds,  # the old key, kept for comparison with earlier runs
        "gate_goal_seconds": GOAL_SECONDS,
        "gate_exit_code": code,
        "gate_load_average_start": load_before,
        "gate_suite_seconds": _suite_seconds(out / "report.json"),
    }
    if code != 0:
        # A gate that does not pass on the clean build measured something else than the gate.
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        figures["error"] = f"gate exited {code} on the clean clinic: {' | '.join(tail)}"
    return figures
