"""What the browser suite will do, decided before Chromium starts.

    scenarios (the profile's, as the switch suite has them) ─► run | not applicable | not run
    world ─► the cast: owners who perform the flows, related users who only read their pages

A scenario applies when the profile's `browser:` section has a control for each of its flows.
A browser drives a person's pace, so the suite stays bounded: a scenario the profile marks
`browser: false` is reported as not run, by name, and the switch suite drives it through the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from harness.errors import InfrastructureError
from harness.models import Actor
from harness.profile.model import BrowserSpec, TargetProfile
from harness.world import World
from scenarios.play import REJOIN
from scenarios.switch import Scenario

__all__ = ["Cast", "Entry", "browser_flow", "make_plan"]


def browser_flow(spec: BrowserSpec, phase: str) -> str:
    """The browser control a phase uses (`rejoin` falls back to the `join` control)."""
    if phase == REJOIN and REJOIN not in spec.flows:
        return "join"
    return phase


def flow_phases(phases: Iterable[str]) -> list[str]:
    return [p for p in phases if p != "look" and not p.startswith("pause")]


@dataclass(frozen=True, slots=True)
class Entry:
    """One scenario of the plan: it runs on the owners' `slot`-th resource, or `skipped` says
    why not."""

    scenario: Scenario
    slot: int = 0
    skipped: str = ""


def make_plan(spec: BrowserSpec, scenarios: Sequence[Scenario], fresh: int | None) -> list[Entry]:
    """Every scenario, in order. Each one that runs flows gets the next unused resource slot;
    `fresh` is how many each owner has (None: the flows act on no resource)."""
    entries: list[Entry] = []
    slot = 0
    for scenario in scenarios:
        flows = flow_phases(scenario.phases)
        missing = sorted({browser_flow(spec, p) for p in flows} - set(spec.flows))
        if missing:
            reason = "not applicable: the profile's browser section has no control for flow "
            entries.append(Entry(scenario, skipped=reason + ", ".join(missing)))
        elif not scenario.browser:
            entries.append(Entry(scenario, skipped=_bounded(scenarios)))
        elif flows and fresh is not None and slot >= fresh:
            reason = f"not run: all {fresh} resource(s) of each user were used by earlier scenarios"
            entries.append(Entry(scenario, skipped=f"{reason}; seed more per user"))
        else:
            entries.append(Entry(scenario, slot))
            slot += 1 if flows else 0
    return entries


def _bounded(scenarios: Sequence[Scenario]) -> str:
    chosen = ", ".join(s.name for s in scenarios if s.browser)
    return f"not run: the browser suite is bounded to {chosen}; the switch suite drives it"


@dataclass(frozen=True, slots=True)
class Cast:
    """Who takes part: `owners` perform the flows on their own resources; `observers` (related
    users: a patient's clinician) only read their pages, where a leak would show too."""

    owners: tuple[Actor, ...]
    observers: tuple[Actor, ...]
    fresh: int | None  # resources each owner has of every kind the flows act on

    @property
    def everyone(self) -> tuple[Actor, ...]:
        return (*self.owners, *self.observers)

    @classmethod
    def pick(cls, world: World, profile: TargetProfile, spec: BrowserSpec, limit: int) -> Cast:
        kinds = _resource_kinds(profile, spec)
        if kinds:
            owning = {r.owner for r in world.resources if r.kind in kinds}
            candidates = [a for a in world.actors.values() if a.id in owning]
        else:
            candidates = list(world.owners())
        owners = tuple(candidates[:limit])
        if len(owners) < 2:
            raise InfrastructureError(
                f"the browser suite needs at least two users who own data, found {len(owners)}",
                "seed more users (--population ROLE=N) or check the profile's roles and resources",
            )
        chosen = {o.id for o in owners}
        may_see = world.ownership.may_see
        observers = tuple(
            a
            for a in world.actors.values()
            if a.id not in chosen
            and a.role in spec.pages
            and any(may_see(a.id, owner) for owner in chosen)
        )
        fresh = min(
            (len(world.resources_of(o.id, kind)) for o in owners for kind in kinds), default=None
        )
        return cls(owners, observers, fresh)


def _resource_kinds(profile: TargetProfile, spec: BrowserSpec) -> set[str]:
    return {
        kind
        for name in spec.flows
        if name in profile.flows and (kind := profile.flows[name].resource) is not None
    }
