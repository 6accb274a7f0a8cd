"""Targets: how the harness talks to one deployment, in app-neutral terms.

A target seeds a population, logs users in, looks at everything a user can reach, runs named
flows, repeats a read as someone else, and says which responses are lists of whose entities.
Every call returns Observations; judging them is the oracles' job.

The default target is driven by a YAML profile (`harness.adapters.profile.ProfileTarget`): a
new app needs a profile, not code. For what YAML cannot say, a Python class implementing
`Target` (usually a ProfileTarget subclass overriding one method) is registered in the
entry-point group `chaperone.adapters` and named by `--adapter`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

import httpx

from harness.client.session import Session
from harness.coverage import Coverage
from harness.errors import UsageError
from harness.models import Actor, Observation
from harness.oracles import Listing
from harness.population import Population
from harness.profile.model import TargetProfile
from harness.world import Resource, World

ADAPTER_GROUP = "chaperone.adapters"
DEFAULT_ADAPTER = "profile"

__all__ = [
    "ADAPTER_GROUP",
    "DEFAULT_ADAPTER",
    "FlowResult",
    "Session",
    "Target",
    "TargetFactory",
    "available_adapters",
    "make_target",
]


@dataclass(frozen=True, slots=True)
class FlowResult:
    """What a flow did: every response, and whether each step answered as expected."""

    observations: tuple[Observation, ...]
    ok: bool
    status: int = 0  # the status of the step that stopped it (0 if all went well)
    conflict: bool = False  # that status means "not possible in this state"

    @property
    def last(self) -> Observation:
        return self.observations[-1]


@runtime_checkable
class Target(Protocol):
    """What every suite needs from a deployment. All methods return what was received.

    Optional parts (push, mail and SMS, media, OpenAPI discovery, recovery counts) are the
    capabilities in harness.adapters.capabilities, which a suite asks for explicitly."""

    profile: TargetProfile

    @property
    def coverage(self) -> Coverage:
        """Every read so far: checked, or lost with its reason (the engine labels the suite)."""

    async def check(self) -> None:
        """Raise TargetUnreachable / UsageError if the target (or its support API) is unusable."""

    async def seed(self, population: Population) -> World:
        """Reset the staging data and create this population. Returns the seeded world."""

    async def login(self, actor: Actor) -> Session: ...

    def anonymous(self) -> Session: ...

    async def look(
        self, session: Session, step: str, *, lists_only: bool = False
    ) -> list[Observation]:
        """Read everything this user can reach (or only its entity lists)."""

    def has_flow(self, name: str) -> bool: ...

    async def flow(
        self,
        session: Session,
        name: str,
        resource: Resource | None,
        step: str,
        owner: str | None = None,
    ) -> FlowResult:
        """Run a named flow as `session`, on one of `owner`'s resources (or entities)."""

    def performer(self, name: str, owner: str) -> str | None:
        """Who runs flow `name` for `owner` (the owner, or a related observer); None: nobody."""

    async def replay_as(self, session: Session, observation: Observation) -> Observation | None:
        """Repeat someone else's read with this session's credentials (the access matrix).
        None when the read is not safe to repeat."""

    def listing(self, observation: Observation) -> Listing | None:
        """Says whether this response lists entities, and whose each item is."""

    async def aclose(self) -> None: ...


class TargetFactory(Protocol):
    def __call__(
        self,
        profile: TargetProfile,
        base_url: str,
        support_token: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        profile_dir: str = ".",
    ) -> Target: ...


def available_adapters() -> dict[str, TargetFactory]:
    found: dict[str, TargetFactory] = {}
    for ep in entry_points(group=ADAPTER_GROUP):
        found[ep.name] = ep.load()
    return found


def make_target(
    profile: TargetProfile,
    base_url: str,
    support_token: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
    adapter: str = DEFAULT_ADAPTER,
    profile_dir: str = ".",
) -> Target:
    adapters = available_adapters()
    if adapter not in adapters:
        close = difflib.get_close_matches(adapter, adapters, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"installed: {', '.join(adapters)}"
        raise UsageError(f"unknown adapter '{adapter}'", hint)
    return adapters[adapter](profile, base_url, support_token, transport, profile_dir)
