"""Positive controls: "no finding" must mean "looked and saw the right data".

A target that does nothing (200 to everything, empty lists, a login stub) produces no findings;
that must never read as a pass. So every suite also checks that its scenario took effect:

* after each look, an owner saw at least one of their own canaries (their name on their
  profile, their notes ...): the session worked and the reads reached real data;
* by the end, every resource's shown canaries reached its owner at least once;
* a flow that `creates` an entity kind made one appear in its owner's lists.

The problems are only raised when the suite found nothing else: a run with findings is a fail
already, and a bug that misfiles data also hides it from its owner (that is the incident).
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import NoEffect
from harness.models import Canary, Finding, Observation, SurfaceKind
from harness.oracles.surfaces import body_kind
from harness.world import World

__all__ = ["Witness"]

_SCANNED = frozenset({SurfaceKind.JSON, SurfaceKind.HTML, SurfaceKind.OTHER, SurfaceKind.DOM})
_MAX_SCAN = 1 << 20


class Witness:
    """Which of their own canaries each owner has seen, and what has gone unseen."""

    def __init__(self, world: World) -> None:
        self._own: dict[str, dict[bytes, Canary]] = {}
        for canary in world.ownership.canaries:
            if canary.shown:
                self._own.setdefault(canary.owner, {})[canary.value.lower().encode()] = canary
        # Each owner's canaries not found yet: only these are searched for in every body. An
        # owner with a deep history holds hundreds, and searching all of them in every page
        # of every look was a tenth of the harness's CPU in the switch suite.
        self._unseen: dict[str, set[bytes]] = {owner: set(own) for owner, own in self._own.items()}
        self.problems: list[str] = []

    def expects(self, actor: str) -> bool:
        return actor in self._own

    def saw(self, observations: Iterable[Observation]) -> bool:
        """Whether these observations (all one actor's) hold any of the actor's own canaries;
        every one found is remembered (`missing`)."""
        hit = False
        for obs in observations:
            unseen = self._unseen.get(obs.actor)
            if unseen is None or obs.status >= 400 or body_kind(obs) not in _SCANNED:
                continue
            body = obs.body[:_MAX_SCAN].lower()
            found = {value for value in unseen if value in body}
            if found:
                unseen -= found
                hit = True
            elif not hit:
                seen = (value for value in self._own[obs.actor] if value not in unseen)
                hit = any(value in body for value in seen)
        return hit

    def look(self, actor: str, observations: list[Observation], where: str) -> None:
        """After `actor` looked at everything: they must have seen something of their own."""
        if not self.expects(actor):
            return
        if not self.saw(observations):
            reads = sum(1 for o in observations if o.actor == actor)
            self.problems.append(
                f"{actor} saw none of their own data in {reads} read(s) at {where}"
            )

    def missing(self, require: set[str] | None = None) -> list[str]:
        """Resources whose shown canaries never reached their owner."""
        gaps: dict[str, int] = {}
        for owner, own in self._own.items():
            if require is not None and owner not in require:
                continue
            for value, canary in own.items():
                if canary.resource and value in self._unseen[owner]:
                    gaps[canary.resource] = gaps.get(canary.resource, 0) + 1
        return sorted(gaps)

    def verdict(self, findings: Iterable[Finding], lookers: set[str]) -> None:
        """Raise NoEffect if no leak was found and the scenario showed no sign of working.
        Findings that are not exposures (a short list, a 5xx) do not excuse it: a stub that
        answers empty lists also "loses data", and that must still read as no effect."""
        if any(f.is_leak for f in findings):
            return
        problems = list(self.problems)
        unseen = self.missing(lookers)
        if unseen:
            problems.append(
                f"{len(unseen)} resource(s) never shown to their owner (e.g. {unseen[0]})"
            )
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise NoEffect(
                f"scenario had no effect: {problems[0]}{more}",
                "check the target is the app the profile describes and that its reads return "
                "the user's own data",
            )
