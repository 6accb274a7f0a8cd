"""The `access` suite: the access matrix, linear in users.

Every read a user made during the earlier suites is repeated with other users' credentials and
judged again. Nothing is hand-written per route: IDORs and unbound media tokens fall out of
repeating what legitimate users did. Repeating every read as every user costs users squared,
so reads are taken per (route, owner): the owner's recordings' metadata is one group, their
recordings list another. Of each group, up to `INSTANCES` reads (its first and its last) are
repeated as:

* the owner (a positive control: the repeat must still reach the owner's own data),
* one user of every relation class toward the owner (for each role: someone related, who must
  be allowed, and someone unrelated, who must not), and anonymously,

and the group as a whole by a seeded sample of the other users, `ceil(others / seeds)` of them
(at most `SAMPLE_MAX`), a different window for each seed: over the policy's consecutive seeds,
every (owner, observer) pair is covered on every route. Cost per group is constant, so the
whole matrix is linear in users.

A read's request-shape variants (harness.client.variants: `GET /x (variant: accept)`) are
groups of their own: each variant is repeated as every relation class toward the owner and
anonymously, but not by the sample, nor with forged credentials, nor by the owner again. A
shape may be served to the wrong user when the plain read is not (a whole file without `Range`,
another renderer), and the classes say so; the plain read carries the rest. Variants are
bounded where they are sent (one owner read per route, a few shapes), so they add a constant
per route.

Which pairs were really checked is in the coverage rows (route, observer, owner). If no earlier
suite ran, the first flow scenario (or a look) is driven first so there is something to repeat.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

from harness.adapters import Session
from harness.aio import each_bounded
from harness.client.listing import base_route
from harness.client.variants import is_variant
from harness.events import CaseFinished, Event, SuiteFinished, SuiteStarted
from harness.models import ANONYMOUS_ID, Observation, Step, Verdict
from harness.suites import RunContext
from harness.world import World
from scenarios.impersonation import Impersonation, impersonations, send_forged
from scenarios.play import Play, Recorder, drain, missing_flows
from scenarios.switch import scenarios_for
from scenarios.writes_as_others import LatestReads, is_write, masked_echo, restore, rounds

CONCURRENCY = 8
INSTANCES = 2  # reads of one route and owner that are repeated (its first and last)
SAMPLE_MAX = 8  # sampled observers per route and owner, whatever the population


def run_access(ctx: RunContext) -> Iterator[Event]:
    """Entry point of the `access` suite."""
    yield from ctx.loop.stream(_access(ctx), ctx.cancel)


def unique_reads(journal: Sequence[Observation]) -> list[Observation]:
    """One observation per distinct read: same method, same URL (query included: two URLs
    that differ only in their query are two reads), same byte range; the owner's if the owner
    made it. Only reads the target answered and that are safe to repeat."""
    seen: dict[tuple[str, str, tuple[int, int] | None, tuple[tuple[str, str], ...]], Observation]
    seen = {}
    for obs in journal:
        if not obs.read or obs.actor in ("harness", ANONYMOUS_ID) or obs.status >= 400:
            continue
        # a variant's `Accept` makes it another read of the same URL
        key = (obs.method, obs.url, obs.byte_range, obs.sent_headers)
        kept = seen.get(key)
        # The owner's own read when there is one, whatever order the looks finished in: a
        # read is never replayed as the user who made it, and the clinician who read a
        # recording before it was deleted must be asked again after.
        if kept is None or (not obs.about and kept.about):
            seen[key] = obs
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Replay:
    original: Observation
    observer: str  # an actor id, or ANONYMOUS_ID
    why: str  # owner, related, unrelated, anonymous, sample


def plan(world: World, reads: Sequence[Observation], seed: int, seeds: int = 1) -> list[Replay]:
    """Who repeats which read (see module docstring). Deterministic for a world and seed."""
    actors = sorted(a.id for a in world.actors.values() if not a.is_anonymous)
    groups: dict[tuple[str, str], list[Observation]] = defaultdict(list)
    for obs in sorted(reads, key=lambda o: (o.method, o.url, o.byte_range or (), o.sent_headers)):
        groups[(obs.about or obs.actor, base_route(obs.endpoint))].append(obs)
    replays: list[Replay] = []
    for (owner, route), members in sorted(groups.items()):
        if is_variant(route):
            replays += _variant_replays(world, actors, owner, members, seed)
            continue
        picked = _spread(members)
        for index, obs in enumerate(picked):
            replays += _controls(world, actors, owner, obs, seed + index)
        others = _others(actors, owner)
        size = min(SAMPLE_MAX, len(others), max(1, -(-len(others) // max(1, seeds))))
        start = (seed * size + _stable(owner, route)) % max(1, len(others))
        for j in range(size):
            who = others[(start + j) % len(others)]
            obs = picked[j % len(picked)]
            if who != obs.actor:
                replays.append(Replay(obs, who, "sample"))
    return replays


def _variant_replays(
    world: World, actors: list[str], owner: str, picked: list[Observation], seed: int
) -> list[Replay]:
    """Each request shape, repeated as each relation class toward its owner and anonymously.
    All of them: a route's variants are already bounded where they are sent (one owner read
    per route, `harness.client.variants.LIMIT` shapes)."""
    return [
        replay
        for index, obs in enumerate(picked)
        for replay in _controls(world, actors, owner, obs, seed + index)
        if replay.why != "owner"
    ]


def _spread(members: list[Observation]) -> list[Observation]:
    """The group's first and last reads: enough of one route and owner to repeat."""
    if len(members) <= INSTANCES:
        return members
    step = (len(members) - 1) / (INSTANCES - 1)
    return [members[round(i * step)] for i in range(INSTANCES)]


def _others(actors: list[str], owner: str) -> list[str]:
    """Everyone but the owner, in a fixed order that starts after the owner: the same order
    under every seed (ids differ between seeds only in their common tag)."""
    if owner not in actors:
        return list(actors)
    at = actors.index(owner)
    return actors[at + 1 :] + actors[:at]


def _stable(owner: str, route: str) -> int:
    """A per-group offset that does not depend on the seed's tag in actor ids."""
    prefix = owner.split("-", 1)[0]
    return sum(map(ord, prefix + route))


def _controls(
    world: World, actors: list[str], owner: str, obs: Observation, seed: int
) -> list[Replay]:
    chosen: dict[str, str] = {}
    if owner in world.actors:
        chosen[owner] = "owner"
    for why, candidate in _class_representatives(world, actors, owner, obs, seed):
        chosen.setdefault(candidate, why)
    replays = [Replay(obs, who, why) for who, why in chosen.items() if who != obs.actor]
    if obs.actor == owner:
        replays.append(Replay(obs, owner, "owner"))
    replays.append(Replay(obs, ANONYMOUS_ID, "anonymous"))
    return replays


def _class_representatives(
    world: World, actors: list[str], owner: str, obs: Observation, seed: int
) -> list[tuple[str, str]]:
    """One related and one unrelated user of every role, rotating with the seed."""
    picks: list[tuple[str, str]] = []
    window = obs.window
    for role in sorted({world.actors[a].role for a in actors}):
        members = [a for a in actors if world.actors[a].role == role and a != owner]
        related = [a for a in members if world.ownership.may_see(a, owner, window)]
        unrelated = [a for a in members if a not in related]
        for why, group in (("related", related), ("unrelated", unrelated)):
            if group:
                picks.append((why, group[seed % len(group)]))
    return picks


async def _access(ctx: RunContext) -> AsyncIterator[Event]:
    started = time.time()
    recorder = Recorder("access", ctx)
    if not any(o.read for o in ctx.journal):
        warm = next(
            (s for s in scenarios_for(ctx) if not missing_flows(ctx.adapter.has_flow, s.phases)),
            None,
        )
        if warm is not None:
            play = Play(ctx, recorder, f"warm-up/{warm.name}", slot=len(scenarios_for(ctx)))
            async for event in drain(_warm(play, warm.phases), recorder):
                yield event
    reads = unique_reads(ctx.journal)
    seeds = 1 + len(ctx.options.extra_seeds)
    replays = plan(ctx.world, reads, ctx.options.seed, seeds)
    yield SuiteStarted("access", total_steps=len(replays), time=started)
    forged: Counter[str] = Counter()
    async for event in drain(_matrix(ctx, recorder, replays, forged), recorder):
        yield event
    pairs = {(r.observer, r.original.about or r.original.actor) for r in replays}
    shaped = sum(is_variant(r.original.endpoint) for r in replays)
    verdict = Verdict.FAIL if recorder.findings else Verdict.PASS
    yield CaseFinished(
        "access",
        "access-matrix",
        verdict,
        time.time() - started,
        message=f"{len(reads)} reads, {len(replays)} repeats ({shaped} of request-shape "
        f"variants), {len(pairs)} (observer, owner) pairs, {sum(forged.values())} forged "
        f"credentials; {len(recorder.findings)} finding(s)",
        finding_keys=tuple(f.key for f in recorder.findings),
    )
    yield SuiteFinished(
        "access",
        verdict,
        time.time() - started,
        time.time(),
        metrics={
            "reads": len(reads),
            "replays": len(replays),
            "pairs": len(pairs),
            "variant_replays": shaped,
            **dict(sorted(forged.items())),
        },
    )


def _touched(item: Replay) -> set[str]:
    """Whose records a repeated write and its undoing may change: the user whose write it
    was, the owner it names, and its sender (an app may apply it to the caller)."""
    original = item.original
    return {original.actor, original.about or original.actor, item.observer}


def _withdrawn(ctx: RunContext, obs: Observation) -> bool:
    if not obs.entity:
        return False
    kind, _, ident = obs.entity.partition(":")
    visibility = ctx.world.ownership.visibility
    return visibility.denied(obs.actor, kind, ident, obs.window) is not None


async def _warm(play: Play, phases: tuple[str, ...]) -> None:
    for phase in phases:
        await play.run_phase(phase)
    if "look" not in phases:
        await play.run_phase("look")


async def _matrix(
    ctx: RunContext, recorder: Recorder, replays: list[Replay], forged: Counter[str]
) -> None:
    sessions: dict[str, Session] = {ANONYMOUS_ID: ctx.adapter.anonymous()}
    for who in sorted({r.observer for r in replays} - {ANONYMOUS_ID}):
        sessions[who] = await ctx.adapter.login(ctx.world.actors[who])
    witness = recorder.witness
    problems: list[str] = []
    latest = LatestReads(ctx.journal)

    async def session_of(who: str) -> Session:
        if who not in sessions:
            sessions[who] = await ctx.adapter.login(ctx.world.actors[who])
        return sessions[who]

    async def replay(item: Replay) -> None:
        original = item.original
        obs = await ctx.adapter.replay_as(sessions[item.observer], original)
        if obs is None:
            return
        if is_write(original):
            if item.observer != original.actor:  # an echo to its own sender is no control
                obs = masked_echo(ctx.world, obs)
            await restore(ctx.adapter, session_of, latest, original, item.observer)
        repro = (
            Step(original.actor, "request", f"{original.method} {original.url}"),
            Step(item.observer, "replay", f"{original.method} {original.url}"),
        )
        recorder.observe(obs, repro)
        lost = witness.saw([original]) and not witness.saw([obs])
        # (a recording the owner deleted since is meant to be gone)
        if item.why == "owner" and lost and not _withdrawn(ctx, obs):
            problems.append(f"{item.observer} repeating their own {original.endpoint}")

    # writes after every read, each undone before anything reads again; only writes whose
    # users are all different go at once (scenarios.writes_as_others.rounds)
    await each_bounded([r for r in replays if not is_write(r.original)], replay, CONCURRENCY)
    for batch in rounds([r for r in replays if is_write(r.original)], _touched):
        await each_bounded(batch, replay, CONCURRENCY)
    attempts = impersonations(
        (r.original, r.observer, r.why)
        for r in replays
        if not is_write(r.original) and not is_variant(r.original.endpoint)
    )

    async def forge(attempt: Impersonation) -> None:
        await send_forged(ctx.adapter, ctx.world, session_of, attempt, recorder.observe, forged)

    await each_bounded(attempts, forge, CONCURRENCY)
    if problems:
        witness.problems.append(
            f"the owner's own repeat lost their data ({len(problems)} read(s), e.g. {problems[0]})"
        )
    originals = {id(r.original): r.original for r in replays}.values()
    owners_reads = [o for o in originals if witness.expects(o.actor)]
    if owners_reads and not any(witness.saw([o]) for o in owners_reads):
        witness.problems.append(
            f"none of the {len(owners_reads)} reads to repeat held their owner's own data"
        )
    witness.verdict(recorder.findings, set())
