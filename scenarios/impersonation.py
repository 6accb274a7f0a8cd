"""Impersonation: reads repeated with credentials tampered to claim the data's owner.

For each read the access matrix repeats as an unrelated user of some role, that user also
forges the owner's identity from their own credentials (`harness.client.forgery`: a JWT claim
set to the owner's value, re-encoded with its signature kept, stripped, as `alg: none`, or
expired; a cookie holding their id swapped) and sends the read again. The answer is judged as
the forger's: an app that believes the forgery hands them the owner's data, and the finding's
step says the credential was forged and how. Bounded: one read per (owner, route), one forger
per role (the matrix's seeded pick), at most five forgeries each.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from harness.adapters import Session
from harness.client.forgery import forgeries
from harness.client.listing import base_route
from harness.models import Observation, Step
from harness.world import World

__all__ = ["Impersonation", "impersonations", "send_forged"]


class Replayer(Protocol):
    async def replay_as(self, session: Session, observation: Observation) -> Observation | None: ...


@dataclass(frozen=True, slots=True)
class Impersonation:
    original: Observation
    forger: str
    victim: str


def impersonations(pairs: Iterable[tuple[Observation, str, str]]) -> list[Impersonation]:
    """(read, observer, why) of the access matrix -> one forgery attempt per (owner, route,
    forger) among unrelated observers."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Impersonation] = []
    for original, observer, why in pairs:
        victim = original.about or original.actor
        key = (victim, base_route(original.endpoint), observer)
        if why != "unrelated" or key in seen:
            continue
        seen.add(key)
        out.append(Impersonation(original, observer, victim))
    return out


async def send_forged(
    target: Replayer,
    world: World,
    session_of: Callable[[str], Awaitable[Session]],
    item: Impersonation,
    observe: Callable[[Observation, tuple[Step, ...]], object],
    sent: Counter[str],
) -> None:
    real = await session_of(item.forger)
    forger, victim = world.actors[item.forger], world.actors.get(item.victim)
    if victim is None:
        return
    for forgery in forgeries(real.headers, real.cookies, forger.vars, victim.vars, time.time()):
        session = Session(
            forger, dict(real.captures), forgery.headers, forgery.cookies, forged=forgery.how
        )
        obs = await target.replay_as(session, item.original)
        if obs is None:
            continue
        sent[f"forged {forgery.variant}"] += 1
        what = f"{item.original.method} {item.original.url}"
        obs = replace(
            obs, step=f"{obs.step} (forged credential claiming {victim.id}: {forgery.how})"
        )
        observe(
            obs,
            (
                Step(item.original.actor, "request", what),
                Step(forger.id, f"forge ({forgery.how})", what),
            ),
        )
