"""Placeholder values: what `{{user.*}}`, `{{owner.*}}`, a relation's name, `{{run.*}}`,
`{{support.token}}` and a resource kind stand for when a step is rendered.

Every driver renders with this one scope, so a template means the same thing in the harness,
in a Locust worker and in the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.models import Actor
from harness.profile.model import TargetProfile
from harness.profile.template import acting, render
from harness.world import Resource, World

__all__ = ["scope_for", "support_headers", "vars_of"]


def vars_of(actor: Actor) -> dict[str, Any]:
    return {**actor.vars, "actor": actor.id}


def scope_for(
    profile: TargetProfile,
    world: World | None,
    actor: Actor,
    resource: Resource | None = None,
    support_token: str = "",
) -> dict[str, Any]:
    """`actor`'s scope (under `user` and its role's name); with a resource, its fields and
    its owner; each relation names the first observer related to the owner now (the user's
    own, without a resource)."""
    scope: dict[str, Any] = {
        **acting(actor.role, vars_of(actor)),
        "support": {"token": support_token},
    }
    if world is None:
        return scope
    scope["run"] = {"tag": world.tag, "seed": world.seed}
    owner = actor
    if resource is not None:
        scope[resource.kind] = dict(resource.vars)
        owner = world.actors.get(resource.owner, actor)
        scope["owner"] = vars_of(owner)
    for name in profile.relations:
        related = world.ownership.visibility.related(name, owner.id)
        if related and related[0] in world.actors:
            scope[name] = vars_of(world.actors[related[0]])
    return scope


def support_headers(profile: TargetProfile, token: str) -> Mapping[str, str]:
    if profile.support is None:
        return {}
    scope = {"support": {"token": token}}
    return {k: render(v, scope) for k, v in profile.support.headers.items()}
