"""The `access` suite: the access matrix.

Every read any actor made during the earlier suites is replayed as every other actor and as an
anonymous client, and the oracles judge the answers. Nothing here is hand-written per route:
IDORs and unbound media tokens fall out of replaying what legitimate users did. If no earlier
suite ran, the switch scenarios' first flow is driven first so there is something to replay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

from harness.adapters import Session
from harness.events import CaseFinished, Event, SuiteFinished, SuiteStarted
from harness.models import Observation, Step, Verdict
from harness.suites import RunContext
from scenarios.play import Play, Recorder, drain
from scenarios.switch import SCENARIOS, _play

_CONCURRENCY = 16


def run_access(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `access` suite."""
    yield from ctx.loop.stream(_access(ctx), ctx.cancel)


def unique_reads(journal: list[Observation]) -> list[Observation]:
    """One successful read per resource. The query string (a per-fetch media token) is ignored,
    and of a Range-fetched media file only the first chunk is kept: whether someone else may
    read a resource does not depend on which bytes they ask for, and the matrix is quadratic
    in actors, so every duplicate costs a row of requests."""
    seen: dict[tuple[str, str], Observation] = {}
    for obs in journal:
        if obs.actor in ("harness", "anonymous") or obs.status >= 400:
            continue
        if obs.byte_range is not None and obs.byte_range[0] != 0:
            continue
        seen.setdefault((obs.method, urlsplit(obs.url).path), obs)
    return list(seen.values())


async def _access(ctx: RunContext) -> AsyncIterator[Event]:
    started = time.time()
    recorder = Recorder("access", ctx)
    if not ctx.journal:
        play = Play(ctx, recorder, "warm-up", appointment=len(SCENARIOS))
        async for event in drain(_play(play, SCENARIOS[0]), recorder):
            yield event
    reads = unique_reads(ctx.journal)
    actors = [a for a in ctx.world.actors.values()]
    yield SuiteStarted("access", total_steps=len(reads) * len(actors), time=started)
    async for event in drain(_matrix(ctx, recorder, reads), recorder):
        yield event
    verdict = Verdict.FAIL if recorder.findings else Verdict.PASS
    yield CaseFinished(
        "access",
        "access-matrix",
        verdict,
        time.time() - started,
        message=f"{len(reads)} reads x {len(actors) + 1} actors; "
        f"{len(recorder.findings)} finding(s)",
        finding_keys=tuple(f.key for f in recorder.findings),
    )
    yield SuiteFinished(
        "access",
        verdict,
        time.time() - started,
        time.time(),
        metrics={"reads": len(reads), "replays": len(reads) * len(actors)},
    )


async def _matrix(ctx: RunContext, recorder: Recorder, reads: list[Observation]) -> None:
    sessions = [ctx.adapter.anonymous()]
    for actor in ctx.world.actors.values():
        sessions.append(await ctx.adapter.login(actor))
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def replay(session: Session, original: Observation) -> None:
        async with limit:
            obs = await ctx.adapter.replay_as(session, original)
        if obs is not None:
            repro = (
                Step(original.actor, "request", f"{original.method} {original.url}"),
                Step(session.actor.id, "replay", f"{original.method} {original.url}"),
            )
            recorder.observe(obs, repro)

    await asyncio.gather(
        *(
            replay(session, original)
            for original in reads
            for session in sessions
            if session.actor.id != original.actor
        )
    )
