"""How run time grows with the population: switch + access at 4, 8, 16, 32 and 64 patients
(one clinician per five patients) against one local clinic, and the fitted exponent of
seconds ~ patients^k (least squares on log-log). The goal is k <= 1.2: linear in users.

    python -m bench.scaling_bench OUT [4,8,16]
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from harness.config import RunOptions
from harness.engine import RunRequest, run
from harness.local_clinic import local_clinic
from harness.profile import load_profile
from harness.sinks import clinic_wiring, sinks_for
from reports.result import RunCollector

SIZES = (4, 8, 16, 32, 64)
GOAL_EXPONENT = 1.2


def measure(patients: int, out: Path) -> dict[str, float]:
    profile = load_profile("clinic")
    options = RunOptions(
        suites=("switch", "access"),
        population={"patient": patients, "clinician": max(1, patients // 5)},
        timeout_seconds=3600,
    )
    with (
        sinks_for(profile.profile) as sinks,
        local_clinic((), extra_args=clinic_wiring(sinks)) as clinic,
    ):
        started = time.monotonic()
        request = RunRequest(
            clinic.url, options, out, clinic.support_token, profile=profile, sinks=sinks
        )
        result = RunCollector().consume(run(request))
        seconds = time.monotonic() - started
    if result.verdict.value != "pass":
        raise RuntimeError(f"{patients} patients: the clean run ended {result.verdict}")
    suites = {s.name: s.seconds for s in result.suites}
    reads = sum(r.checked + r.lost for r in result.coverage_rows)
    return {
        "patients": patients,
        "seconds": round(seconds, 1),
        "switch_seconds": round(suites.get("switch", 0.0), 1),
        "access_seconds": round(suites.get("access", 0.0), 1),
        "reads": reads,
    }


def exponent(points: Sequence[dict[str, float]]) -> float:
    """k in seconds = c * patients^k, by least squares on the logs."""
    xs = [math.log(p["patients"]) for p in points]
    ys = [math.log(p["seconds"]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return round(num / den, 3)


def main(out: Path, sizes: Sequence[int] = SIZES) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    points = [measure(n, out / f"p{n}") for n in sizes]
    k = exponent(points)
    figures = {
        "scaling": {"points": points, "exponent": k, "goal_exponent": GOAL_EXPONENT},
        "scaling_exponent": k,
    }
    (out / "scaling.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return figures


if __name__ == "__main__":
    chosen = tuple(int(x) for x in sys.argv[2].split(",")) if len(sys.argv) > 2 else SIZES
    print(json.dumps(main(Path(sys.argv[1]), chosen), indent=1))
