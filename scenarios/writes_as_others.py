"""Writes the access suite sends as other users (a profile read marked `replay: as-others`, or
any repeated read that sends a body with a method other than GET).

Such a write carries its owner's own values, naming the owner (`PUT /users/{owner}/email`). The
app may check the caller and refuse, apply it to the owner and answer with the owner's record
(the leak this looks for), or apply it to the caller (VAmPI's does: it acts on the token's
user, whatever the URL says). Two things keep the ownership model true whatever it did:

* the writes go one at a time, after every read has been repeated, and after each one the
  owner, and the sender when it made the same write itself, send their own original again: each
  record is back to the values the model says it holds before anything else reads it;
* a canary the sender sent is masked in what came back: an answer echoing the request reveals
  nothing. Anything else of the owner's in the answer is a leak.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Protocol

from harness.adapters import Session
from harness.models import ANONYMOUS_ID, Observation
from harness.world import World

__all__ = ["is_write", "masked_echo", "restore"]


class Replayer(Protocol):
    async def replay_as(self, session: Session, observation: Observation) -> Observation | None: ...


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_write(obs: Observation) -> bool:
    """A repeated request that may change what it names: it is sent alone, then undone."""
    return obs.method not in _READ_METHODS and bool(obs.sent_body)


def masked_echo(world: World, obs: Observation) -> Observation:
    """`obs` with every canary its own request sent blanked out of the answer (same length, so
    offsets and Range stitching are unchanged)."""
    sent = obs.sent_body.lower()
    if not sent:
        return obs
    values = {
        c.value
        for c in world.ownership.canaries
        if len(c.value) >= 6 and c.value.lower().encode() in sent
    }
    body = obs.body
    for value in sorted(values, key=len, reverse=True):
        body = re.sub(re.escape(value.encode()), b"x" * len(value.encode()), body, flags=re.I)
    return obs if body == obs.body else replace(obs, body=body)


async def restore(
    target: Replayer,
    session_of: Callable[[str], Awaitable[Session]],
    journal: Sequence[Observation],
    original: Observation,
    sender: str,
) -> None:
    """The owner's write again, as the owner, and the sender's own write of the same route
    again, as the sender: whichever record the app changed holds its own values again."""
    await target.replay_as(await session_of(original.actor), original)
    if sender == ANONYMOUS_ID or sender == original.actor:
        return
    own = next(
        (
            o
            for o in reversed(journal)
            if o.actor == sender and o.endpoint == original.endpoint and o.read and o.status < 400
        ),
        None,
    )
    if own is not None:
        await target.replay_as(await session_of(sender), own)
