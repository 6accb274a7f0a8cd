"""What the load suite's users do, resolved from the profile's `load:` section and the world.

    load.reads ──► ReadChoice (a profile read, or a discovered GET route) with weight and roles
    load.flows ──► Journey (start flow, wave flows, rounds, finish flows) on one resource kind
    slot ──► which actor a user logs in as, and for a journey, which resources it drives

The harness resolves the workload once before Locust starts (so a profile mistake is a one-line
ConfigError, not a crashed worker); every Locust process resolves it again from the world it
was given. Slots are global across processes, so no two journeys ever drive one resource.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.client.core import unsafe_patterns
from harness.client.scope import scope_for
from harness.errors import ConfigError
from harness.models import Actor
from harness.profile.model import HttpStep, LoadSpec, ReadSpec, TargetProfile
from harness.profile.template import route_of
from harness.world import Resource, World
from load.contract import DiscoveredRead

__all__ = ["Journey", "ReadChoice", "Workload", "resolve", "step_route"]


def step_route(step: HttpStep) -> str:
    return step.route or route_of(step.method, step.path)


@dataclass(frozen=True, slots=True)
class ReadChoice:
    """One load read: a profile read (`spec`) or a discovered route, with its weight."""

    label: str  # as the profile's load section names it
    weight: int
    pick: str  # own | any
    spec: ReadSpec | None = None
    discovered: DiscoveredRead | None = None

    def applies_to(self, role: str) -> bool:
        return self.spec is None or not self.spec.roles or role in self.spec.roles

    @property
    def each(self) -> str | None:
        return self.spec.each if self.spec is not None else None

    @property
    def route(self) -> str:
        if self.discovered is not None:
            return self.discovered.route
        assert self.spec is not None
        return step_route(self.spec.steps[-1])


@dataclass(frozen=True, slots=True)
class Journey:
    """A load flow: the flows one user runs on each of its resources, start to finish."""

    start: str
    waves: tuple[str, ...]
    rounds: int
    finish: tuple[str, ...]
    weight: int
    kind: str  # the resource kind its flows act on
    roles: frozenset[str]  # who performs it (empty: the resources' owners, whatever their role)

    def flows(self) -> tuple[str, ...]:
        return (self.start, *self.waves, *self.finish)


@dataclass(frozen=True, slots=True)
class Assignment:
    """What one journey user does: as whom, and on which resources in turn."""

    journey: Journey
    actor: Actor
    resources: tuple[Resource, ...]


def resolve(
    profile: TargetProfile, discovered: Sequence[DiscoveredRead] = ()
) -> tuple[list[ReadChoice], list[Journey]]:
    """The profile's load section as reads and journeys; ConfigError names any mistake."""
    spec = profile.load
    if spec is None or (not spec.reads and not spec.flows):
        raise ConfigError(
            f"profile '{profile.name}' has no load: section, so the load suite has nothing to do",
            "add load: with reads (and flows) to the profile, or leave load out of --suite",
        )
    reads = [_read(profile, spec, i, discovered) for i in range(len(spec.reads))]
    reads += _found(profile, spec, reads, discovered)
    journeys = [_journey(profile, spec, i) for i in range(len(spec.flows))]
    known = {c.route for c in reads}
    known |= {step_route(s) for c in reads if c.spec is not None for s in c.spec.steps}
    for route in spec.slo:
        if route not in known:
            raise ConfigError(
                f"load.slo names '{route}', which no load read requests",
                _suggest(route, known) or "name the route of one of load.reads",
            )
    return reads, journeys


def _read(
    profile: TargetProfile, spec: LoadSpec, index: int, discovered: Sequence[DiscoveredRead]
) -> ReadChoice:
    wanted = spec.reads[index]
    where = f"load.reads[{index}]"
    matches = [
        r
        for r in profile.reads
        if r.name == wanted.read or wanted.read in {step_route(s) for s in r.steps}
    ]
    if len(matches) > 1 and any(not r.roles for r in matches):
        raise ConfigError(
            f"{where} names '{wanted.read}', which matches {len(matches)} reads",
            "give the read you mean a name: under reads: and use that name",
        )
    if matches:
        read = matches[0] if len(matches) == 1 else _merge_roles(matches)
        for step in read.steps:
            _check_step(profile, step, where)
        if wanted.pick == "any" and read.each is None:
            raise ConfigError(
                f"{where} picks 'any' but '{wanted.read}' is not an `each` read",
                "drop pick: any, or name an each read",
            )
        return ReadChoice(wanted.read, wanted.weight, wanted.pick, spec=read)
    found = next((d for d in discovered if d.route == wanted.read), None)
    if found is None:
        known = [r.name for r in profile.reads if r.name]
        known += [step_route(s) for r in profile.reads for s in r.steps]
        known += [d.route for d in discovered]
        hint = _suggest(wanted.read, known) or (
            "name a read under reads: (its name or route), or a GET route of the OpenAPI "
            "document under discover:"
        )
        raise ConfigError(
            f"{where} names '{wanted.read}', which is neither a read nor a discovered route",
            hint,
        )
    if _unsafe(profile, found.route):
        raise ConfigError(
            f"{where} names '{found.route}', which the profile lists as unsafe",
            "remove it from load.reads",
        )
    return ReadChoice(wanted.read, wanted.weight, wanted.pick, discovered=found)


def _found(
    profile: TargetProfile,
    spec: LoadSpec,
    named: list[ReadChoice],
    discovered: Sequence[DiscoveredRead],
) -> list[ReadChoice]:
    """With `load.discovered`, every discovered route the reads do not name, at that weight:
    what users reach is loaded without listing it by hand."""
    if spec.discovered <= 0:
        return []
    have = {c.route for c in named}
    return [
        ReadChoice(d.route, spec.discovered, "own", discovered=d)
        for d in dict((d.route, d) for d in discovered).values()
        if d.route not in have and not _unsafe(profile, d.route)
    ]


def _merge_roles(reads: list[ReadSpec]) -> ReadSpec:
    """Reads of one route for different roles (one request each) act as one read."""
    first = reads[0]
    roles = sorted({role for r in reads for role in r.roles})
    return first.model_copy(update={"roles": roles})


def _check_step(profile: TargetProfile, step: HttpStep, where: str) -> None:
    if step.auth == "support":
        raise ConfigError(
            f"{where} uses the staging support API ({step.method} {step.path})",
            "load users act as themselves; load workers never get the support token",
        )
    if _unsafe(profile, step_route(step)):
        raise ConfigError(
            f"{where} requests {step_route(step)}, which the profile lists as unsafe",
            "remove it from the load section",
        )


def _unsafe(profile: TargetProfile, route: str) -> bool:
    return any(fnmatch.fnmatchcase(route, p) for p in unsafe_patterns(profile))


def _journey(profile: TargetProfile, spec: LoadSpec, index: int) -> Journey:
    load_flow = spec.flows[index]
    where = f"load.flows[{index}]"
    names = (load_flow.flow, *load_flow.waves, *load_flow.finish)
    kinds: set[str | None] = set()
    for name in names:
        if name not in profile.flows:
            hint = _suggest(name, list(profile.flows)) or f"flows: {', '.join(profile.flows)}"
            raise ConfigError(f"{where} names flow '{name}', which is not under flows:", hint)
        flow = profile.flows[name]
        kinds.add(flow.resource)
        for step in flow.steps:
            _check_step(profile, step, f"{where} (flow {name})")
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    if kind is None:
        raise ConfigError(
            f"{where}: its flows must all act on one resource kind (flows.*.resource)",
            "a journey drives one resource (one call) from start to finish",
        )
    return Journey(
        start=load_flow.flow,
        waves=tuple(load_flow.waves),
        rounds=load_flow.rounds,
        finish=tuple(load_flow.finish),
        weight=load_flow.weight,
        kind=kind,
        roles=frozenset(profile.flows[load_flow.flow].as_),
    )


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(dict.fromkeys(known)), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


class Workload:
    """The resolved load section over one world: who reads what, who drives which resources."""

    def __init__(
        self,
        profile: TargetProfile,
        world: World,
        discovered: Sequence[DiscoveredRead] = (),
        reserved: Iterable[str] = (),
    ) -> None:
        self.profile = profile
        self.world = world
        # Users a suite running beside the load drives: their resources are not the journeys'.
        self.reserved = frozenset(reserved)
        self.reads, self.journeys = resolve(profile, discovered)
        self._weighted_journeys = [j for j in self.journeys for _ in range(j.weight)]

    # -- reads --------------------------------------------------------------------------------

    def reads_for(self, role: str) -> list[ReadChoice]:
        return [c for c in self.reads if c.applies_to(role)]

    def list_reads(self, role: str, kind: str) -> list[ReadSpec]:
        """The profile reads this role may make that list entities of `kind`."""
        entity = self.profile.entities.get(kind)
        if entity is None:
            return []
        routes = set(entity.lists)
        return [
            r
            for r in self.profile.reads
            if (not r.roles or role in r.roles)
            and r.each is None
            and step_route(r.steps[-1]) in routes
        ]

    def readers(self) -> list[Actor]:
        return [
            a
            for _, a in sorted(self.world.actors.items())
            if not a.is_anonymous and self.reads_for(a.role)
        ]

    def reader(self, slot: int) -> Actor | None:
        readers = self.readers()
        return readers[slot % len(readers)] if readers else None

    # -- journeys -----------------------------------------------------------------------------

    def flow_resources(self) -> int:
        """How many resources the journeys can drive: more journey users than this would idle."""
        kinds = {j.kind for j in self.journeys}
        return sum(
            1 for r in self.world.resources if r.kind in kinds and r.owner not in self.reserved
        )

    def assignment(self, slot: int, flow_users: int) -> Assignment | None:
        """The journey, actor and resources of journey user `slot` of `flow_users`."""
        if not self._weighted_journeys or flow_users <= 0:
            return None
        journey = self._weighted_journeys[slot % len(self._weighted_journeys)]
        group = [
            s
            for s in range(max(flow_users, slot + 1))
            if self._weighted_journeys[s % len(self._weighted_journeys)] is journey
        ]
        position = group.index(slot)
        owners = self._performers(journey)
        if not owners:
            return None
        count = len(owners)
        owner = owners[position % count]
        sharers = [p for p in range(len(group)) if p % count == position % count]
        rank = sharers.index(position)
        mine = sorted(self.world.resources_of(owner.id, journey.kind), key=lambda r: r.index)
        return Assignment(journey, owner, tuple(mine[rank :: len(sharers)]))

    def _performers(self, journey: Journey) -> list[Actor]:
        owning = {r.owner for r in self.world.resources if r.kind == journey.kind}
        return [
            a
            for _, a in sorted(self.world.actors.items())
            if a.id in owning
            and a.id not in self.reserved
            and (not journey.roles or a.role in journey.roles)
        ]

    # -- template scopes --------------------------------------------------------------------

    def scope(self, actor: Actor, resource: Resource | None = None) -> dict[str, Any]:
        """The placeholder values every driver renders with (`harness.client.scope`)."""
        return scope_for(self.profile, self.world, actor, resource)
