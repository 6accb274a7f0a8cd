"""Benchmark: what the in-worker leak check costs the load suite in throughput.

Starts a clean clinic, runs the load suite twice with the same users and duration, once with
every response leak-checked and once bare, and reports both request rates and their ratio
(goal: checked/bare >= 0.90).

    /work/venv/bin/python bench/load_bench.py [OUT_DIR] [ROUNDS]
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from harness.adapters.clinic import ClinicAdapter

from harness.aio import LoopThread
from harness.config import RunOptions
from harness.events import SuiteFinished
from harness.oracles import Judge
from harness.population import make_population
from harness.suites import RunContext
from harness.world import World
from load.suite import run_load_plan

USERS = 12
SECONDS = 15.0


@contextlib.contextmanager
def _clinic(data_dir: Path) -> Iterator[tuple[str, str]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    token = secrets.token_hex(8)
    cmd = [sys.executable, "-m", "chaperone", "clinic", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(data_dir), "--support-token", token]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, token
    finally:
        process.terminate()
        process.wait(10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the clinic at {url} did not start")


def _rps(url: str, token: str, out: Path, check_leaks: bool) -> float:
    options = RunOptions(suites=("load",), load_users=USERS, load_seconds=SECONDS)
    loop, adapter = LoopThread(), ClinicAdapter(url, token)
    population = make_population(options.seed, options.patients, options.clinicians)

    def seed() -> World:
        return loop.run(adapter.seed(population), timeout=60)

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
    try:
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
    with _clinic(out / "clinic-data") as (url, token):
        for i in range(rounds):
            for checked in (False, True) if i % 2 == 0 else (True, False):
                name = f"{'checked' if checked else 'bare'}-{i}"
                totals[checked] += _rps(url, token, out / name, check_leaks=checked)
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
