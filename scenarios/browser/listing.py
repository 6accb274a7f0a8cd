"""Rendered rows, checked one by one against who may see whose data.

The canary oracle already catches a foreign row that shows the owner's data; this check also
catches one that shows none (a recording titled "video recording"), from the owner attribute
the page renders per row (`browser.row_owner_attr`, e.g. `data-patient-id`).
"""

from __future__ import annotations

from harness.models import Finding, Observation, Severity, Surface, SurfaceKind
from harness.world import World

CHECK = "browser-row-owner"


def foreign_rows(world: World, obs: Observation, owners: list[str], var: str) -> list[Finding]:
    """A finding per owner, named by the rows' attribute values (their `var`), whose data
    `obs.actor` may not see."""
    findings: list[Finding] = []
    named = {world.actor_by_var(var, value) for value in owners}
    for owner in sorted(o for o in named if o is not None):
        if world.ownership.may_see(obs.actor, owner, obs.window):
            continue
        findings.append(
            Finding(
                check=CHECK,
                kind="foreign-row",
                severity=Severity.CRITICAL,
                message=f"a row on {obs.url} belongs to another user",
                observer=obs.actor,
                surface=Surface(SurfaceKind.DOM, obs.endpoint),
                step=obs.step,
                time=obs.time,
                owner=owner,
                evidence=f"row owner {var} -> {owner}",
                suite="browser",
            )
        )
    return findings


def own_rows(world: World, observer: str, owners: list[str], var: str) -> int:
    """How many rows name `observer` as their owner (a positive figure for the report)."""
    return sum(1 for value in owners if world.actor_by_var(var, value) == observer)
