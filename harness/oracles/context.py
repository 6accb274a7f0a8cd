"""What an oracle may consult besides the observation: the world, the matcher, the listing
parser the target adapter supplies, and the Range assembler that outlives single responses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.coverage import Coverage
from harness.matcher import CanaryMatcher
from harness.media import RangeAssembler
from harness.models import Observation
from harness.world import World

__all__ = ["Listing", "ListingParser", "OracleContext", "no_listing"]


@dataclass(frozen=True, slots=True)
class Listing:
    """A response that lists entities (recordings, appointments, books ...), with the actor
    owning each item and each item's id.

    An owner of None is a server id the world does not know: it counts as foreign. `exact`
    lists must hold exactly the observer's visible resources of the same kind; the count is
    only judged on a `complete` list (one page holding all of it).
    """

    kind: str
    owners: tuple[str | None, ...]
    ids: tuple[str, ...] = ()
    exact: bool = False
    complete: bool = True


ListingParser = Callable[[Observation], Listing | None]


def no_listing(obs: Observation) -> Listing | None:
    """The default: without an adapter we cannot tell what a response lists."""
    return None


@dataclass(slots=True)
class OracleContext:
    world: World
    matcher: CanaryMatcher
    listing: ListingParser = no_listing
    ranges: RangeAssembler = field(default_factory=lambda: RangeAssembler(edge=64))
    # Where reads an oracle could not fully judge are counted as lost (None: nowhere).
    coverage: Coverage | None = None

    @classmethod
    def for_world(
        cls,
        world: World,
        listing: ListingParser | None = None,
        coverage: Coverage | None = None,
    ) -> OracleContext:
        matcher = CanaryMatcher(world.ownership.canaries)
        return cls(
            world=world,
            matcher=matcher,
            listing=listing or no_listing,
            ranges=RangeAssembler(edge=max(matcher.max_length - 1, 1)),
            coverage=coverage,
        )

    def lost(self, obs: Observation, reason: str) -> None:
        """`obs` was only partly judged (a decoding cap cut it): its read counts as lost too,
        so a gate never reads a cut body as a clean one."""
        if self.coverage is not None:
            self.coverage.lost(*coverage_key(obs), reason)


def coverage_key(obs: Observation) -> tuple[str, str, str]:
    """The coverage row a read counts in: (route, observer, owner)."""
    return (obs.endpoint or obs.url.split("?", 1)[0], obs.actor, obs.about or obs.actor)
