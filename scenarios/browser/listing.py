"""The rendered Recordings list, checked item by item against who may see whose recordings.

The canary oracle already catches a foreign recording whose title carries the owner's data; this
check also catches one that carries none, from the `data-patient-id` the page renders per item.
"""

from __future__ import annotations

from harness.models import Finding, Observation, Severity, Surface, SurfaceKind
from harness.world import World

CHECK = "browser-recordings-owner"


def foreign_recordings(world: World, obs: Observation, owner_ids: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for owner in sorted(set(_owners(world, owner_ids))):
        if world.ownership.may_see(obs.actor, owner):
            continue
        findings.append(
            Finding(
                check=CHECK,
                kind="foreign-recording",
                severity=Severity.CRITICAL,
                message=f"the Recordings list on {obs.url} shows a recording of another patient",
                observer=obs.actor,
                surface=Surface(SurfaceKind.DOM, obs.endpoint),
                step=obs.step,
                time=obs.time,
                owner=owner,
                evidence=f"li.recording[data-patient-id] -> {owner}",
                suite="browser",
            )
        )
    return findings


def _owners(world: World, owner_ids: list[str]) -> list[str]:
    owners = []
    for raw in owner_ids:
        actor = world.actor_for_server_id(int(raw)) if raw.isdigit() else None
        if actor is not None:
            owners.append(actor)
    return owners
