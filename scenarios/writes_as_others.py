"""Writes the access suite sends as other users (a profile read marked `replay: as-others`, or
any repeated read that sends a body with a method other than GET).

Such a write carries its owner's own values, naming the owner (`PUT /users/{owner}/email`). The
app may check the caller and refuse, apply it to the owner and answer with the owner's record
(the leak this looks for), or apply it to the caller (VAmPI's does: it acts on the token's
user, whatever the URL says). Two things keep the ownership model true whatever it did:

* the writes go after every read has been repeated, and after each one the owner, and the
  sender when it made the same write itself, send their own original again: each record is back
  to the values the model says it holds before anything else reads it. Writes go at once only
  when no user is touched by two of them (`rounds`): the sender's, the owner's and the writer's
  records can each hold another's values only until that write's own undoing, which nothing
  else of its round can read;
* a canary the sender sent is masked in what came back: an answer echoing the request reveals
  nothing. Anything else of the owner's in the answer is a leak.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

from harness.adapters import Session
from harness.models import ANONYMOUS_ID, Observation
from harness.world import World

__all__ = ["LatestReads", "is_write", "masked_echo", "restore", "rounds"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


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


class LatestReads:
    """Each user's latest answered repeatable request of each route in a journal that only
    grows: what `restore` sends again as the sender. Kept up as the journal grows, instead
    of searching the whole journal backwards for every write (thousands of writes over a
    journal of thousands)."""

    def __init__(self, journal: Sequence[Observation]) -> None:
        self.journal = journal
        self._read = 0
        self._latest: dict[tuple[str, str], Observation] = {}

    def of(self, actor: str, endpoint: str) -> Observation | None:
        journal = self.journal
        if len(journal) < self._read:  # cleared: start again
            self._read, self._latest = 0, {}
        for obs in journal[self._read :]:
            if obs.read and obs.status < 400:
                self._latest[(obs.actor, obs.endpoint)] = obs
        self._read = len(journal)
        return self._latest.get((actor, endpoint))


async def restore(
    target: Replayer,
    session_of: Callable[[str], Awaitable[Session]],
    journal: Sequence[Observation] | LatestReads,
    original: Observation,
    sender: str,
) -> None:
    """The owner's write again, as the owner, and the sender's own write of the same route
    again, as the sender: whichever record the app changed holds its own values again."""
    await target.replay_as(await session_of(original.actor), original)
    if sender == ANONYMOUS_ID or sender == original.actor:
        return
    latest = journal if isinstance(journal, LatestReads) else LatestReads(journal)
    own = latest.of(sender, original.endpoint)
    if own is not None:
        await target.replay_as(await session_of(sender), own)


def rounds(items: Sequence[T], touched: Callable[[T], set[K]]) -> list[list[T]]:
    """`items` in rounds whose members touch nobody in common, each item in the first round
    after every earlier item it shares someone with: one after another, the writes and their
    undoing were the access suite's longest chain of requests, each waiting for the last."""
    placed: list[tuple[list[T], set[K]]] = []
    last: dict[K, int] = {}  # the latest round holding someone
    for item in items:
        who = touched(item)
        at = max((last[k] + 1 for k in who if k in last), default=0)
        if at == len(placed):
            placed.append(([], set()))
        placed[at][0].append(item)
        placed[at][1].update(who)
        for k in who:
            last[k] = at
    return [members for members, _ in placed]
