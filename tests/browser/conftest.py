"""A real clinic subprocess and a RunContext for the browser suite, without the engine.

The clinic is started the way the CLI starts it (harness.local_clinic); a clinic that does not
come up fails the test, never skips it. The target is driven through the clinic's own profile,
as in a real run; a test may hand in a changed profile.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.adapters import make_target
from harness.aio import LoopThread
from harness.config import RunOptions
from harness.local_clinic import local_clinic, stop
from harness.oracles import Judge
from harness.population import counts_for, make_population
from harness.profile import load_profile
from harness.profile.model import TargetProfile
from harness.suites import RunContext
from harness.world import World


@dataclass
class Clinic:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop(self.process)


@contextlib.contextmanager
def run_clinic(tmp: Path, faults: str = "", media: str = "header") -> Iterator[Clinic]:
    """The real clinic subprocess, started the way the CLI starts it (harness.local_clinic);
    `media` real makes its calls WebRTC."""
    names = tuple(f for f in faults.split(",") if f)
    extra = ["--media", media] if media != "header" else []
    with local_clinic(names, data_dir=tmp / "data", extra_args=extra) as clinic:
        yield Clinic(clinic.url, clinic.support_token, clinic.process, clinic.log)


def clinic_profile() -> TargetProfile:
    return load_profile("clinic").profile


@contextlib.contextmanager
def make_context(
    clinic: Clinic, out_dir: Path, profile: TargetProfile | None = None, **options: object
) -> Iterator[RunContext]:
    """A RunContext as the engine builds it: one loop, one target, a judge, a reseed function."""
    opts = RunOptions(**options)  # type: ignore[arg-type]
    loop = LoopThread()
    adapter = make_target(profile or clinic_profile(), clinic.url, clinic.token)
    adapter.coverage.suite = "browser"
    counts = counts_for(adapter.profile, opts.population)

    def seed() -> World:
        population = make_population(adapter.profile, opts.seed, counts)
        world: World = loop.run(adapter.seed(population), timeout=120)
        return world

    loop.run(adapter.check(), timeout=60)
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
