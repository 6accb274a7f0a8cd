"""The built-in oracles. Each is a plain function; the registry finds them by name.

Evidence never quotes a canary or any patient-like value: it names the owner (an actor id the
harness invented), what kind of datum it was, and where it was seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from harness.matcher import Hit
from harness.media import resource_key
from harness.models import Finding, Observation, Severity, Surface, SurfaceKind
from harness.oracles.context import Listing, OracleContext
from harness.oracles.registry import oracle
from harness.oracles.surfaces import Part, parts, where
from harness.world import World

__all__ = ["appointment_count", "canary_leak", "recording_ownership", "server_error"]


@oracle("canary-leak")
def canary_leak(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """Any canary the observer may not see, in any byte it received."""
    seen: set[tuple[str, SurfaceKind]] = set()
    for part, hit in _hits(obs, ctx):
        canary = hit.canary
        if ctx.world.ownership.may_see(obs.actor, canary.owner):
            continue
        if (canary.value, part.kind) in seen:
            continue
        seen.add((canary.value, part.kind))
        yield _leak(obs, part, hit)


def _hits(obs: Observation, ctx: OracleContext) -> Iterator[tuple[Part, Hit]]:
    for part in parts(obs):
        unescape = part.kind is not SurfaceKind.MEDIA  # nothing decodes escapes in media
        for hit in ctx.matcher.scan(part.data, unescape=unescape):
            yield part, hit
    if obs.status == 206 and obs.byte_range is not None and obs.body:
        yield from _seam_hits(obs, ctx)


def _seam_hits(obs: Observation, ctx: OracleContext) -> Iterator[tuple[Part, Hit]]:
    """Canaries cut in two by a Range boundary, stitched from earlier chunks."""
    assert obs.byte_range is not None
    key = resource_key(obs.actor, obs.url)
    for seam in ctx.ranges.add(key, obs.byte_range[0], obs.body):
        part = Part(SurfaceKind.MEDIA, seam.data, seam.start)
        for hit in ctx.matcher.scan(seam.data, unescape=False):
            if seam.straddles(hit.start, len(hit.canary.value)):
                yield part, hit


def _leak(obs: Observation, part: Part, hit: Hit) -> Finding:
    canary, surface = hit.canary, Surface(part.kind, where(obs))
    what = canary.label or str(canary.kind)
    header = part.header_at(hit.start)
    place = f"header {header}" if header else f"byte {part.offset + hit.start}"
    return Finding(
        check="canary-leak",
        kind="canary-leak",
        severity=Severity.CRITICAL,
        message=f"{obs.actor} received data of patient {canary.owner} ({what}) in {surface}",
        observer=obs.actor,
        surface=surface,
        step=obs.step,
        time=obs.time,
        owner=canary.owner,
        canary_kind=canary.kind,
        evidence=f"canary of patient {canary.owner} ({what}) at {place} of {surface.where}",
    )


@oracle("recording-ownership")
def recording_ownership(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """A recordings list holds only the observer's own, or (clinician) assigned patients'."""
    listing = ctx.listing(obs)
    if listing is None or listing.kind != "recording":
        return
    yield from _foreign(obs, ctx.world, listing, "recording-ownership", "foreign-recording")


@oracle("appointment-count")
def appointment_count(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """An appointments list has exactly the seeded count; more is the leak, fewer is data loss."""
    listing = ctx.listing(obs)
    if listing is None or listing.kind != "appointment":
        return
    seen, expected = len(listing.owners), _expected_appointments(ctx.world, obs.actor)
    if seen != expected:
        yield _count_finding(obs, seen, expected)
    yield from _foreign(obs, ctx.world, listing, "appointment-count", "foreign-appointment")


@oracle("server-error")
def server_error(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    if obs.status >= 500:
        surface = Surface(SurfaceKind.ERROR, where(obs))
        yield Finding(
            check="server-error",
            kind="server-error",
            severity=Severity.HIGH,
            message=f"{surface.where} answered {obs.status} to {obs.actor}",
            observer=obs.actor,
            surface=surface,
            step=obs.step,
            time=obs.time,
            evidence=f"HTTP {obs.status} from {surface.where}",
        )


def _may_hold(world: World, observer: str, owner: str | None) -> bool:
    if owner is None:
        return False
    actor = world.actors.get(observer)
    return owner == observer or (actor is not None and owner in actor.assigned)


def _expected_appointments(world: World, observer: str) -> int:
    return world.expected_appointments(observer) if observer in world.actors else 0


def _foreign(
    obs: Observation, world: World, listing: Listing, check: str, kind: str
) -> Iterator[Finding]:
    surface = Surface(SurfaceKind.JSON, where(obs))
    for owner, count in Counter(listing.owners).items():
        if _may_hold(world, obs.actor, owner):
            continue
        whose = f"patient {owner}" if owner is not None else "an unknown patient"
        yield Finding(
            check=check,
            kind=kind,
            severity=Severity.CRITICAL,
            message=f"{obs.actor}'s {listing.kind} list holds {count} item(s) of {whose}",
            observer=obs.actor,
            surface=surface,
            step=obs.step,
            time=obs.time,
            owner=owner,
            evidence=f"{count} {listing.kind}(s) of {whose} in {surface.where}",
            extra=(("items", str(count)),),
        )


def _count_finding(obs: Observation, seen: int, expected: int) -> Finding:
    surface = Surface(SurfaceKind.JSON, where(obs))
    more = seen > expected
    return Finding(
        check="appointment-count",
        kind="appointment-count",
        severity=Severity.HIGH if more else Severity.MEDIUM,
        message=f"{obs.actor} sees {seen} appointment(s), expected {expected}"
        + (" (someone else's are listed)" if more else " (some are missing)"),
        observer=obs.actor,
        surface=surface,
        step=obs.step,
        time=obs.time,
        evidence=f"{seen} appointment(s) in {surface.where}, {expected} seeded",
        extra=(("seen", str(seen)), ("expected", str(expected))),
    )
