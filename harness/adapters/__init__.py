"""Target adapters: how the harness talks to one kind of deployment.

An adapter seeds synthetic actors through the deployment's staging support API, logs actors in,
lists everything an actor can reach (appointments, recordings, pages, media), drives a
consultation (join, switch, leave/rejoin, end), and says which responses are listings. Every
call returns Observations; judging them is the oracles' job.

Adapters are found through the entry-point group `chaperone.adapters`; the reference clinic's
adapter is the built-in `clinic`. A new adapter is one class of about a page: see ARCHITECTURE.md.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

import httpx

from harness.errors import UsageError
from harness.models import Actor, Observation
from harness.oracles import Listing
from harness.population import Population
from harness.world import World

ADAPTER_GROUP = "chaperone.adapters"
DEFAULT_ADAPTER = "clinic"


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in actor (or the anonymous client, with no credentials)."""

    actor: Actor
    token: str | None = None
    cookie: str | None = None


class TargetAdapter(Protocol):
    """What the harness needs from a deployment. All methods return what was received."""

    base_url: str

    async def check(self) -> None:
        """Raise TargetUnreachable / UsageError if the target or its support API is unusable."""

    async def seed(self, population: Population) -> World:
        """Reset the staging data and create this population. Returns the seeded world."""

    async def login(self, actor: Actor) -> Session: ...

    def anonymous(self) -> Session: ...

    async def surfaces(self, session: Session, step: str) -> list[Observation]:
        """Fetch everything this actor can reach: lists, pages, each recording and its media."""

    async def lists(self, session: Session, step: str) -> list[Observation]:
        """Only the actor's lists (recordings, appointments): the cheap part of `surfaces`."""

    async def act(
        self, session: Session, step: str, action: str, consultation_id: int, arg: str = ""
    ) -> Observation:
        """Drive a call: action is join, leave, switch (arg = mode) or end."""

    async def replay_as(self, session: Session, observation: Observation) -> Observation | None:
        """Re-issue a read someone else made, with this session's credentials (access matrix).
        None when the request is not safe to replay (it would change state)."""

    def listing(self, observation: Observation) -> Listing | None:
        """Says whether this response lists recordings or appointments, and whose."""

    async def aclose(self) -> None: ...


class AdapterFactory(Protocol):
    def __call__(
        self,
        base_url: str,
        support_token: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> TargetAdapter: ...


def available_adapters() -> dict[str, AdapterFactory]:
    found: dict[str, AdapterFactory] = {}
    for ep in entry_points(group=ADAPTER_GROUP):
        found[ep.name] = ep.load()
    return found


def make_adapter(
    name: str,
    base_url: str,
    support_token: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> TargetAdapter:
    adapters = available_adapters()
    if name not in adapters:
        close = difflib.get_close_matches(name, adapters, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"installed: {', '.join(adapters)}"
        raise UsageError(f"unknown adapter '{name}'", hint)
    return adapters[name](base_url, support_token, transport)
