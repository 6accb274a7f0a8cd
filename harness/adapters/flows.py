"""Flows as the harness runs them: who performs one, on which entity, and, once a flow that
changes visibility completes, telling the world (`World.apply`) what changed and when."""

from __future__ import annotations

from harness.adapters import FlowResult
from harness.adapters.http import HttpDriver
from harness.adapters.looks import Looks
from harness.client import FlowRun, Session, run_flow, vars_of
from harness.client.listing import Entity
from harness.errors import InfrastructureError
from harness.models import Actor
from harness.profile.model import FlowSpec
from harness.profile.template import acting
from harness.world import Completed, Resource, World

__all__ = ["Flows"]


class Flows:
    def __init__(self, http: HttpDriver, looks: Looks) -> None:
        self.http = http
        self.client = http.client
        self.profile = http.client.profile
        self.looks = looks

    @property
    def world(self) -> World:
        world = self.client.world
        assert world is not None
        return world

    def performer(self, name: str, owner: str) -> str | None:
        spec = self.profile.flows[name]
        if spec.by is None:
            return owner
        related = self.world.ownership.visibility.related(spec.by, owner)
        effect = spec.effect
        relation = effect.relation if effect is not None and effect.change == "move" else None
        if relation is not None and self._receiver(relation, owner) is None:
            return None  # already with the receiver: nothing to move
        return related[0] if related else None

    def _receiver(self, relation: str, owner: str) -> str | None:
        role = self.profile.relations[relation].observer
        return self.world.next_observer(relation, role, owner)

    async def run(
        self, session: Session, name: str, step: str, subject: Actor, resource: Resource | None
    ) -> FlowResult:
        """Flow `name` as `session`, on `subject`'s data (`resource`, or the entity of
        theirs last listed)."""
        spec = self.profile.flows[name]
        scope = self.client.scope(subject, resource)
        scope.update(acting(session.actor.role, vars_of(session.actor)))
        scope["owner"] = vars_of(subject)
        entity = None
        if spec.entity is not None:
            candidates = self.looks.entities_of(subject.id, spec.entity)
            if not candidates:
                raise InfrastructureError(
                    f"flow {name} for {subject.id}: no {spec.entity} of theirs was ever listed",
                    "run a flow that creates one (and a look) before this one",
                )
            entity = candidates[-1]
            scope[spec.entity] = dict(entity.item)
        receiver = None
        if spec.effect is not None and spec.effect.relation is not None:
            receiver = self._receiver(spec.effect.relation, subject.id)
            if receiver is not None:
                scope[f"{spec.effect.relation}_next"] = vars_of(self.world.actors[receiver])
        run = await self.http.run(run_flow(self.client, session, name, scope, step))
        if run.missing:
            raise InfrastructureError(
                f"flow {name} as {session.actor.id}: {run.missing}",
                "fix the flow's capture in the profile",
            )
        if not run.ok:
            return FlowResult(run.observations, False, run.status, run.conflict)
        if spec.effect is not None:
            why = f"{name} for {subject.id}"
            self.world.apply(_completed(spec, why, subject.id, entity, receiver, run))
        return FlowResult(run.observations, True)


def _completed(
    spec: FlowSpec,
    why: str,
    owner: str,
    entity: Entity | None,
    receiver: str | None,
    run: FlowRun,
) -> Completed:
    effect = spec.effect
    assert effect is not None
    if effect.relation is not None:
        moved = receiver if effect.change == "move" else None
        return Completed(why, owner, run.started, run.done, effect.relation, moved)
    denied = (entity.kind, entity.id) if entity is not None else None
    return Completed(why, owner, run.started, run.done, entity=denied, to=effect.to)
