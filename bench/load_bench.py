"""Benchmark: what the in-worker leak check costs the load suite in throughput.

Starts a clean clinic, runs the load suite twice with the same users and duration, once with
every response leak-checked and once bare, and reports both request rates and their ratio
(goal: checked/bare >= 0.90).

    .venv/bin/python -m bench.load_bench [OUT_DIR] [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from harness.adapters import make_target
from harness.aio import LoopThread
from harness.config import RunOptions
from harness.events import SuiteFinished
from harness.local_clinic import local_clinic
from harness.oracles import Judge
from harness.population import counts_for, make_population
from harness.profile import load_profile
from harness.suites import RunContext
from harness.world import World
from load.suite import run_load_plan

USERS = 12
SECONDS = 15.0


def _rps(url: str, token: str, out: Path, check_leaks: bool) -> float:
    """One load run through the clinic's profile, as the engine would set it up."""
    options = RunOptions(suites=("load",), load_users=USERS, load_seconds=SECONDS)
    loaded = load_profile("clinic")
    loop, adapter = LoopThread(), make_target(loaded.profile, url, token)
    counts = counts_for(loaded.profile, options.population)

    def seed() -> World:
        world: World = loop.run(
            adapter.seed(make_population(loaded.profile, options.seed, counts)), timeout=120
        )
        return world

    try:
        loop.run(adapter.check(), timeout=60)
        world = seed()
        ctx = RunContext(
            target=url,
            world=world,
            options=options,
            out_dir=out,
            judge=Judge.from_world(world, listing=adapter.listing),
            adapter=adapter,
            loop=loop,
            support_token=token,
            reseed=seed,
        )
        ctx.adapter.coverage.suite = "load"
        events = list(run_load_plan(ctx, check_leaks=check_leaks))
    finally:
        loop.run(adapter.aclose(), timeout=10)
        loop.close()
    [done] = [e for e in events if isinstance(e, SuiteFinished)]
    return float(done.metrics["rps"])  # type: ignore[arg-type]


def main(out: Path, rounds: int = 1) -> dict[str, float]:
    """Bare and checked runs against one clinic; with rounds > 1 the order alternates (ABBA), so
    drift in a shared machine's load hits both sides alike."""
    out.mkdir(parents=True, exist_ok=True)
    totals = {True: 0.0, False: 0.0}
    with local_clinic(data_dir=out / "clinic-data") as clinic:
        for i in range(rounds):
            for checked in (False, True) if i % 2 == 0 else (True, False):
                name = f"{'checked' if checked else 'bare'}-{i}"
                rps = _rps(clinic.url, clinic.support_token, out / name, check_leaks=checked)
                totals[checked] += rps
    checked_rps, bare_rps = totals[True] / rounds, totals[False] / rounds
    return {
        "load_rps_checked": round(checked_rps, 2),
        "load_rps_bare": round(bare_rps, 2),
        "load_rps_ratio_checked_vs_bare": round(checked_rps / bare_rps, 3) if bare_rps else 0.0,
    }


if __name__ == "__main__":
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="load-bench-"))
    )
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    print(json.dumps(main(target, rounds), indent=1))
