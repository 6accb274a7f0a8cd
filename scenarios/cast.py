"""Who plays each switch scenario when a run has several seeds: the cast and the audience.

With one seed every owner plays every scenario and everyone looks. With the policy's `seeds`
consecutive seeds, each scenario is played by a window of `ceil(owners / seeds)` owners (at
least `MIN_CAST`, so there is still a crowd to race), the window moving on by its own width
with each seed: over the seeds, every owner plays every scenario, as over the seeds every
(owner, observer) pair is covered in the access suite. Scenarios within one seed take
successive windows, so every owner is busy in some of them.

The audience, who look and listen, is the cast, every user who owns no flows (clinicians: few,
and the observers a misfiled recording would reach), and a sample of the other owners, whose
views a stray recording could land in. A leak that stays is seen by everyone at the suite's
closing look; the sample is there for leaks that come and go within a scenario.

Over the seeds the scenarios then cost what one seed of everyone would: each seed plays
`1 / seeds` of the owners, instead of all of them again. And consecutive windows share no
owner while two of them fit in the ring, so the switch suite plays such scenarios at once
(`scenarios.switch._together`): they act on different users' calls, as two groups of users
would, and the holds of a real call in one overlap the other's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.world import World

MIN_CAST = 4  # owners playing a scenario at once, at least (the incident needed two)
AUDIENCE_SAMPLE = 2  # owners outside the cast who look too


@dataclass(frozen=True, slots=True)
class Cast:
    players: frozenset[str]
    resting: frozenset[str]  # the other owners: they sit this scenario out
    audience: tuple[str, ...]


def players_of(world: World) -> list[str]:
    """Owners who drive flows, in an order that is the same under every seed (ids differ
    between seeds only in their common tag)."""
    return sorted({r.owner for r in world.resources})


def cast_for(world: World, index: int, seed: int, seeds: int) -> Cast | None:
    """The cast of the `index`-th playing scenario under `seed` of `seeds`; None: everyone."""
    players = players_of(world)
    n = len(players)
    size = max(min(MIN_CAST, n), -(-n // max(1, seeds)))
    if size >= n:
        return None
    start = (seed + index) * size % n
    cast = [players[(start + j) % n] for j in range(size)]
    outside = [players[(start + size + j) % n] for j in range(n - size)]  # the ring after it
    shift = (seed + index) % max(1, len(outside))
    sample = (outside[shift:] + outside[:shift])[:AUDIENCE_SAMPLE]
    chosen = set(cast) | set(sample)
    audience = tuple(
        a.id
        for a in world.actors.values()
        if not a.is_anonymous and (a.id not in players or a.id in chosen)
    )
    return Cast(frozenset(cast), frozenset(players) - set(cast), audience)
