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
from harness.oracles.decoded import Budget
from harness.oracles.leaks import canary_finding
from harness.oracles.registry import oracle
from harness.oracles.surfaces import Part, body_kind, parts, where
from harness.world import World

__all__ = ["canary_leak", "entity_denied", "list_count", "list_ownership", "server_error"]


@oracle("canary-leak")
def canary_leak(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """Any canary the observer may not see, in any byte it received or any view of them a
    program decodes on its own. What a decoding cap cut off is counted as lost coverage."""
    seen: set[tuple[str, SurfaceKind]] = set()
    budget = Budget()
    # Whether the observer may see each owner, asked once per owner: a listing holds a few
    # owners' canaries (mostly the observer's own) in every part it is read as.
    allowed: dict[str, bool] = {}
    may_see, actor, window = ctx.world.ownership.may_see, obs.actor, obs.window
    for part, hit in _hits(obs, ctx, budget):
        canary = hit.canary
        verdict = allowed.get(canary.owner)
        if verdict is None:
            verdict = allowed[canary.owner] = may_see(actor, canary.owner, window)
        if verdict:
            continue
        if (canary.value, part.kind) in seen:
            continue
        seen.add((canary.value, part.kind))
        yield _leak(obs, part, hit)
    for reason in budget.cut:
        ctx.lost(obs, reason)


def _hits(obs: Observation, ctx: OracleContext, budget: Budget) -> Iterator[tuple[Part, Hit]]:
    for part in parts(obs, budget):
        unescape = part.kind is not SurfaceKind.MEDIA  # nothing decodes escapes in media
        for hit in ctx.matcher.scan(part.data, unescape=unescape, skip_owner=obs.actor):
            yield part, hit
    if obs.byte_range is not None and obs.body:
        yield from _seam_hits(obs, ctx)


def _seam_hits(obs: Observation, ctx: OracleContext) -> Iterator[tuple[Part, Hit]]:
    """Canaries cut in two by a Range boundary, stitched from earlier chunks."""
    assert obs.byte_range is not None
    key = resource_key(obs.actor, obs.url)
    for seam in ctx.ranges.add(key, obs.byte_range[0], obs.body):
        part = Part(SurfaceKind.MEDIA, seam.data, seam.start)
        for hit in ctx.matcher.scan(seam.data, unescape=False, skip_owner=obs.actor):
            if seam.straddles(hit.start, len(hit.canary.value)):
                yield part, hit


def _leak(obs: Observation, part: Part, hit: Hit) -> Finding:
    canary, surface = hit.canary, Surface(part.kind, where(obs))
    what = canary.label or str(canary.kind)
    header = part.header_at(hit.start)
    place = f"header {header}" if header else f"byte {part.offset + hit.start}"
    encoding = ">".join(e for e in (part.encoding, hit.encoding) if e)
    spelled = f" ({encoding})" if encoding else ""
    if part.encoding:
        place = f"byte {hit.start} of the {part.encoding} view"
    return canary_finding(
        obs,
        canary,
        surface,
        check="canary-leak",
        message=f"{obs.actor} received {canary.owner}'s data ({what}) in {surface}{spelled}",
        evidence=f"canary of {canary.owner} ({what}){spelled} at {place} of {surface.where}",
        encoding=encoding,
    )


@oracle("list-ownership")
def list_ownership(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """A list holds only items of owners the observer may see (their own, their patients')."""
    listing = ctx.listing(obs)
    if listing is None:
        return
    yield from _foreign(obs, ctx.world, listing)


@oracle("list-count")
def list_count(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """An `exact` list holds exactly the observer's visible resources of its kind: more is a
    leak, fewer is data loss. Judged only on a list that is complete on one page."""
    listing = ctx.listing(obs)
    if listing is None or not listing.exact or not listing.complete:
        return
    if obs.actor not in ctx.world.actors:
        return
    seen = len(listing.owners)
    expected = ctx.world.expected_count(obs.actor, listing.kind, obs.window)
    if seen != expected:
        yield _count_finding(obs, listing.kind, seen, expected)


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


def _foreign(obs: Observation, world: World, listing: Listing) -> Iterator[Finding]:
    surface = Surface(SurfaceKind.JSON, where(obs))
    kind = f"foreign-{listing.kind}"
    for owner, count in Counter(listing.owners).items():
        if owner is not None and world.ownership.may_see(obs.actor, owner, obs.window):
            continue
        whose = f"user {owner}" if owner is not None else "an unknown user"
        yield Finding(
            check="list-ownership",
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


def _count_finding(obs: Observation, kind: str, seen: int, expected: int) -> Finding:
    surface = Surface(SurfaceKind.JSON, where(obs))
    more = seen > expected
    return Finding(
        check="list-count",
        kind=f"{kind}-count",
        severity=Severity.HIGH if more else Severity.MEDIUM,
        message=f"{obs.actor} sees {seen} {kind}(s), expected {expected}"
        + (" (someone else's are listed)" if more else " (some are missing)"),
        observer=obs.actor,
        surface=surface,
        step=obs.step,
        time=obs.time,
        evidence=f"{seen} {kind}(s) in {surface.where}, {expected} seeded",
        extra=(("seen", str(seen)), ("expected", str(expected))),
    )


@oracle("entity-denied")
def entity_denied(obs: Observation, ctx: OracleContext) -> Iterator[Finding]:
    """An entity served or listed after it was denied to the observer: a recording shared
    again after consent was withdrawn, still there after it was deleted. Judged against the
    denials in force before the request was sent."""
    visibility = ctx.world.ownership.visibility
    if not visibility.denials():
        return
    if obs.entity and 200 <= obs.status < 300:
        kind, _, ident = obs.entity.partition(":")
        denial = visibility.denied(obs.actor, kind, ident, obs.window)
        if denial is not None:
            yield _denied(obs, kind, ident, obs.about or obs.actor, denial.reason, "served")
    listing = ctx.listing(obs)
    if listing is None:
        return
    for ident, owner in zip(listing.ids, listing.owners, strict=False):
        denial = visibility.denied(obs.actor, listing.kind, ident, obs.window)
        if denial is not None:
            yield _denied(obs, listing.kind, ident, owner or "", denial.reason, "listed")


def _denied(obs: Observation, kind: str, ident: str, owner: str, why: str, how: str) -> Finding:
    surface = Surface(_surface_kind(obs), where(obs))
    other = owner != obs.actor
    return Finding(
        check="entity-denied",
        kind=f"denied-{kind}-{how}",
        severity=Severity.CRITICAL if other else Severity.HIGH,
        message=f"{obs.actor} was {how} {kind} {ident} of {owner or 'an unknown user'} after "
        f"it was withdrawn ({why})",
        observer=obs.actor,
        surface=surface,
        step=obs.step,
        time=obs.time,
        owner=owner or None,
        evidence=f"{kind} {ident} {how} in {surface.where} after: {why}",
        extra=(("entity", f"{kind}:{ident}"),),
    )


def _surface_kind(obs: Observation) -> SurfaceKind:
    return body_kind(obs)
