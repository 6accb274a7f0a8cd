"""Seeding: reset the staging data, then create the population's users, relations and
resources through the profile's steps, and return the World they make up."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from harness.adapters.http import HttpDriver
from harness.client import Session, vars_of
from harness.client.core import detail
from harness.errors import InfrastructureError
from harness.models import Actor
from harness.population import Planned, PlannedUser, Population
from harness.profile.model import HttpStep, TargetProfile
from harness.profile.noreset import seeding_hint
from harness.profile.steps import capture_all, is_success, prepare
from harness.profile.template import acting
from harness.world import Resource, World

__all__ = ["Seeder"]

_SEED_CONCURRENCY = 8
_RESET_ATTEMPTS = 4


class Seeder:
    def __init__(self, http: HttpDriver, base_url: str) -> None:
        self.http = http
        self.client = http.client
        self.profile: TargetProfile = http.client.profile
        self.base_url = base_url

    async def seed(self, population: Population) -> World:
        for step in self.profile.reset:
            # A reset is idempotent, so a 5xx is retried: VAmPI's `GET /createdb` picks random
            # unique book titles and answers 500 on a collision, one reset in five or so.
            await self.step(step, {}, "reset", attempts=_RESET_ATTEMPTS)
        limit = asyncio.Semaphore(_SEED_CONCURRENCY)
        scope_run = {"run": {"tag": population.tag, "seed": population.seed}}
        users = await asyncio.gather(
            *(self._create_user(u, scope_run, limit) for u in population.users)
        )
        actors = {a.id: a for a in users}
        for relation, observer, owner in population.relations:
            spec = self.profile.relations[relation]
            pair = {"observer": vars_of(actors[observer]), "owner": vars_of(actors[owner])}
            # each side by its role's name too, when that names one side only
            named = {spec.observer: pair["observer"], spec.owner: pair["owner"]}
            scope = {**scope_run, **(named if len(named) == 2 else {}), **pair}
            for step in spec.create:
                await self.step(step, scope, f"relate/{relation}")
        world = World(
            self.base_url,
            population.seed,
            actors,
            population.ownership,
            (),
            _doc(self.profile),
            population.tag,
            population.heavy,
        )
        # Resources are created in the world's scope: their steps may name a relation. One
        # kind after another, in the profile's order: a later kind's create step may need an
        # earlier one's (a recording is filed under one of its owner's appointments).
        self.client.world_changed(world)
        resources: list[Resource] = []
        for kind, kind_spec in self.profile.resources.items():
            planned = [r for r in population.resources if r.kind == kind]
            if kind_spec.bulk:
                batches = _batches(planned, kind_spec.bulk_size)
                made = await asyncio.gather(
                    *(self._create_batch(b, actors, scope_run, limit) for b in batches)
                )
                resources += [r for batch in made for r in batch]
                continue
            resources += await asyncio.gather(
                *(self._create_resource(r, actors, scope_run, limit) for r in planned)
            )
        return replace(world, resources=tuple(resources))

    async def _create_user(
        self, user: PlannedUser, scope_run: Mapping[str, Any], limit: asyncio.Semaphore
    ) -> Actor:
        values: dict[str, Any] = {**user.fields, "actor": user.id}
        spec = self.profile.roles[user.role]
        async with limit:
            for step in spec.create:
                scope = {**scope_run, **acting(user.role, values)}
                values |= await self.step(step, scope, "create")
        return Actor(user.id, user.role, user.display_name, values)

    async def _create_resource(
        self,
        planned: Planned,
        actors: Mapping[str, Actor],
        scope_run: Mapping[str, Any],
        limit: asyncio.Semaphore,
    ) -> Resource:
        spec = self.profile.resources[planned.kind]
        owner = actors[planned.owner]
        values: dict[str, Any] = dict(planned.fields)
        session = await self.http.login(owner) if spec.as_ == "owner" else None
        async with limit:
            for step in spec.create:
                scope = {
                    **self.client.scope(owner),
                    **scope_run,
                    "owner": vars_of(owner),
                    planned.kind: values,
                }
                auth = (
                    step.auth
                    if spec.as_ == "owner"
                    else ("support" if spec.as_ == "support" else "none")
                )
                values |= await self.step(step, scope, f"create/{planned.kind}", session, auth)
        return Resource(planned.kind, planned.owner, planned.index, values)

    async def _create_batch(
        self,
        batch: list[Planned],
        actors: Mapping[str, Actor],
        scope_run: Mapping[str, Any],
        limit: asyncio.Semaphore,
    ) -> list[Resource]:
        """One owner's resources of one kind in one request per bulk step (a heavy owner's
        hundred rows in one call, not a hundred)."""
        kind = batch[0].kind
        spec = self.profile.resources[kind]
        owner = actors[batch[0].owner]
        values = [dict(p.fields) for p in batch]
        session = await self.http.login(owner) if spec.as_ == "owner" else None
        async with limit:
            for step in spec.bulk:
                scope = {
                    **self.client.scope(owner),
                    **scope_run,
                    "owner": vars_of(owner),
                    "batch": [dict(v) for v in values],
                }
                auth = (
                    step.auth
                    if spec.as_ == "owner"
                    else ("support" if spec.as_ == "support" else "none")
                )
                got = await self.step(step, scope, f"create/{kind}", session, auth)
                for name, value in got.items():
                    spread = isinstance(value, list) and len(value) == len(values)
                    for index, item in enumerate(values):
                        item[name] = value[index] if spread else value
        return [
            Resource(p.kind, p.owner, p.index, item) for p, item in zip(batch, values, strict=True)
        ]

    async def step(
        self,
        step: HttpStep,
        scope: Mapping[str, Any],
        what: str,
        session: Session | None = None,
        auth: str | None = None,
        attempts: int = 1,
    ) -> dict[str, Any]:
        """One setup step; what it captures. Raises InfrastructureError when it fails."""
        prep = prepare(step, scope)
        if auth is not None:
            prep = replace(prep, auth=auth)
        elif prep.auth == "session" and session is None:
            prep = replace(prep, auth="none")  # nobody is logged in while seeding
        action = f"seed/{what}"
        obs = await self.http.run(self.client.send(session, prep, action, retry=False))
        for attempt in range(1, attempts):
            if obs.status < 500:
                break
            await asyncio.sleep(0.2 * attempt)
            obs = await self.http.run(self.client.send(session, prep, action, retry=False))
        if not is_success(step, obs.status):
            raise InfrastructureError(
                f"could not {what}: {prep.method} {prep.path.split('?', 1)[0]} answered "
                f"{obs.status}: {detail(obs)}",
                seeding_hint(
                    self.profile,
                    what,
                    obs.status,
                    "check the target's logs and the profile's steps (and the support token)",
                ),
            )
        try:
            return capture_all(step, obs.headers, obs.body)
        except KeyError as exc:
            kind = (obs.content_type or "no content type").split(";")[0]
            raise InfrastructureError(
                f"could not {what}: {prep.method} {prep.path.split('?', 1)[0]} answered "
                f"{obs.status} {kind} without what the profile captures ({exc.args[0]})",
                seeding_hint(
                    self.profile,
                    what,
                    obs.status,
                    "check that --target is the app the profile describes (and the step's capture)",
                ),
            ) from None


def _doc(profile: TargetProfile) -> dict[str, Any]:
    document: dict[str, Any] = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def _batches(planned: list[Planned], size: int) -> list[list[Planned]]:
    """Each owner's planned resources, in runs of at most `size`."""
    by_owner: dict[str, list[Planned]] = {}
    for item in planned:
        by_owner.setdefault(item.owner, []).append(item)
    return [
        items[start : start + size]
        for items in by_owner.values()
        for start in range(0, len(items), size)
    ]
