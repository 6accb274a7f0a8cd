"""How long the full gate takes on the clean local clinic with the release policy
(flags/policies/video-switch.yaml: 20 patients, 4 clinicians and their heavy owners, 3 seeds,
every suite with fuzz, the crawl and the variants; goal: <= 120 s on 2 quiet cores), and what
that time bought.

Runs `python -m chaperone gate --build bench` as a user would, in a subprocess, with a
throwaway signing key, and times it end to end (clinic start-up included). Beside the wall
time: the CPU seconds of the gate and everything it waited for (the clinic, Locust, Chromium),
because on a shared machine the wall time swings with the neighbours and the CPU seconds much
less; and from the gate's report.json the per-suite seconds, the reads by source (profile,
OpenAPI, crawl, browser traffic, variants), how deep each list went, and whether fuzz finished
its passes or was cut by its time limit. A faster gate that reads less is visible as such.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from flags.keys import SIGNING_KEY_ENV, new_signing_key
from selftest.machine import load_average


def _report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def report_figures(report: dict[str, Any]) -> dict[str, object]:
    """What the gate covered, from its report.json: the figures a gate time is only worth
    something next to."""
    suites = report.get("suites", {})
    coverage = report.get("coverage", {})
    fuzz = suites.get("fuzz", {}).get("metrics", {})
    access = [s.get("metrics", {}) for name, s in suites.items() if name.startswith("access")]
    return {
        "gate_suite_seconds": {
            name: round(float(s["seconds"]), 1) for name, s in suites.items() if "seconds" in s
        },
        "gate_reads_by_source": coverage.get("reads_by_source", {}),
        "gate_reads_checked": coverage.get("checked", 0),
        "gate_reads_lost": coverage.get("lost", 0),
        "gate_access_replays": sum(int(m.get("replays", 0)) for m in access),
        "gate_variant_replays": sum(int(m.get("variant_replays", 0)) for m in access),
        "gate_list_depth": {
            route: {"pages": d.get("pages"), "rows": d.get("rows"), "end": d.get("end")}
            for route, d in coverage.get("depth", {}).items()
        },
        "gate_fuzz_requests": fuzz.get("requests", 0),
        "gate_fuzz_passes": fuzz.get("passes", 0),
        "gate_fuzz_passes_done": fuzz.get("passes_done"),
        "gate_fuzz_phases": fuzz.get("phases", {}),
        # "time limit": fuzz_seconds cut its passes, so part of its traffic was never sent
        "gate_fuzz_stopped": fuzz.get("stopped", ""),
    }


GOAL_SECONDS = 120.0


def main(out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "chaperone", "gate", "--build", "bench", "--out", str(out)]
    env = {**os.environ, SIGNING_KEY_ENV: new_signing_key().pem().decode()}
    log = out / "gate.log"
    # The VM's speed swings with its neighbours and with what the previous bench part left
    # running: the load average at the start says which kind of minute this figure came from.
    load_before = load_average()
    cpu_before = _children_cpu()
    started = time.monotonic()
    with log.open("wb") as sink:
        code = subprocess.run(argv, stdout=sink, stderr=subprocess.STDOUT, env=env).returncode
    seconds = round(time.monotonic() - started, 1)
    cpu = round(_children_cpu() - cpu_before, 1)
    figures: dict[str, object] = {
        "gate_seconds_release_policy": seconds,
        "gate_seconds_clean": seconds,  # the old key, kept for comparison with earlier runs
        "gate_goal_seconds": GOAL_SECONDS,
        "gate_exit_code": code,
        "gate_load_average_start": load_before,
        "gate_load_average_end": load_average(),
        # the gate's process and the children it waited for: the clinic, Locust, Chromium
        "gate_cpu_seconds": cpu,
        **report_figures(_report(out / "report.json")),
    }
    if code != 0:
        # A gate that does not pass on the clean build measured something else than the gate.
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        figures["error"] = f"gate exited {code} on the clean clinic: {' | '.join(tail)}"
    return figures


def _children_cpu() -> float:
    """User and system CPU seconds of the children waited for so far (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
