"""How small a counterexample the stateful suite shrinks the 2020 bug to.

Runs only the stateful suite against a local clinic with `switch-recording-misattribution`
planted and reads the suite's `shrink_steps` / `shrink_owners` metrics (the clinic's owners are
patients).
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.local_clinic import local_clinic
from reports.result import RunCollector

FAULT = "switch-recording-misattribution"


def main(out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with local_clinic([FAULT]) as clinic:
        request = RunRequest(
            clinic.url, RunOptions(suites=("stateful",)), out, clinic.support_token, build="bench"
        )
        result = RunCollector().consume(run(request))
    suite = result.suite("stateful")
    if suite is None or "shrink_steps" not in suite.metrics:
        why = suite.message if suite else "the stateful suite did not run"
        raise RuntimeError(f"no counterexample for {FAULT}: {why}")
    return {
        "shrink_steps": suite.metrics["shrink_steps"],
        "shrink_patients": suite.metrics["shrink_owners"],
        "shrink_examples": suite.metrics.get("examples"),
        "shrink_fault": FAULT,
        "shrink_seconds": round(time.monotonic() - started, 1),
    }
