"""A real clinic subprocess and a RunContext for the browser suite, without the engine.

The clinic is started as `python -m chaperone clinic serve`, exactly as CI and users start it; a
clinic that does not come up fails the test, never skips it.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.adapters.clinic import ClinicAdapter
from harness.aio import LoopThread
from harness.config import RunOptions
from harness.oracles import Judge
from harness.population import make_population
from harness.suites import RunContext
from harness.world import World
from tests.services.postgres import free_port

STARTUP_SECONDS = 30.0


@dataclass
class Clinic:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def run_clinic(tmp: Path, faults: str = "") -> Iterator[Clinic]:
    port, token = free_port(), f"t-{secrets.token_hex(8)}"
    log = tmp / "clinic.log"
    cmd = [
        sys.executable,
        "-m",
        "chaperone",
        "clinic",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "data"),
        "--support-token",
        token,
    ]
    if faults:
        cmd += ["--faults", faults]
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        clinic = Clinic(
            f"http://127.0.0.1:{port}",
            token,
            subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT),
            log,
        )
    try:
        _wait_healthy(clinic)
        yield clinic
    finally:
        clinic.stop()


def _wait_healthy(clinic: Clinic) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if clinic.process.poll() is not None:
            raise RuntimeError(f"clinic exited: {clinic.log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{clinic.url}/healthz", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"clinic did not become healthy: {clinic.log.read_text(errors='replace')}")


@contextlib.contextmanager
def make_context(clinic: Clinic, out_dir: Path, **options: object) -> Iterator[RunContext]:
    """A RunContext as the engine builds it: one loop, one adapter, a judge, a reseed function."""
    opts = RunOptions(**options)  # type: ignore[arg-type]
    loop, adapter = LoopThread(), ClinicAdapter(clinic.url, clinic.token)
    population = make_population(
        opts.seed, opts.patients, opts.clinicians, opts.appointments_per_patient
    )

    def seed() -> World:
        return loop.run(adapter.seed(population), timeout=60)

    world = seed()
    ctx = RunContext(
        target=clinic.url,
        world=world,
        options=opts,
        out_dir=out_dir,
        judge=Judge.from_world(world, listing=adapter.listing),
        adapter=adapter,
        loop=loop,
        support_token=clinic.token,
    )

    def reseed() -> World:
        ctx.world = seed()
        ctx.judge = Judge.from_world(ctx.world, listing=adapter.listing)
        return ctx.world

    ctx.reseed = reseed
    try:
        yield ctx
    finally:
        loop.run(adapter.aclose(), timeout=10)
        loop.close()
