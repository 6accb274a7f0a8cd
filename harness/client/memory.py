"""What one user learnt from what it read: the entities its lists showed (what `each` reads
and flows act on), the values it saw (what fills discovered routes), the reads made once."""

from __future__ import annotations

from harness.client.discovery import ValuePool
from harness.client.listing import Entity, EntityParser
from harness.models import Actor, Observation
from harness.world import World

__all__ = ["Memory"]


class Memory:
    def __init__(self, actor: Actor, world: World | None, harvest: bool = True) -> None:
        self.actor = actor
        self.harvest = harvest  # keep values from JSON bodies (only discovery needs them)
        self.seen: dict[str, Entity] = {}  # "kind:id" -> the entity, as first seen
        self.done: set[str] = set()  # reads made once per user
        # How far the run's listing had got (harness.adapters.looks.Looks.listed) when the
        # user's first look ended (None before it ends): a heavy owner's items listed by then,
        # to this user or any other, are the bulk its sample is taken from; later ones are new
        self.bulk_mark: int | None = None
        self.pool = ValuePool()
        for name, value in actor.vars.items():
            self.pool.add(name, value, own=True)
        if world is not None:
            for resource in world.resources_of(actor.id):
                for name, value in resource.vars.items():
                    self.pool.add(name, value, own=True)

    def learn(self, obs: Observation, entities: EntityParser | None) -> list[Entity]:
        """Remember what a successful response showed; returns the entities it listed."""
        if obs.status != 200:
            return []
        if self.harvest and "json" in obs.content_type:
            self.pool.harvest(obs.body)
        listed = (entities.entities(obs) if entities is not None else None) or []
        for entity in listed:
            self.seen.setdefault(f"{entity.kind}:{entity.id}", entity)
            self.pool.add_entity(entity.kind, entity.id, own=entity.owner == self.actor.id)
        return listed

    def of_kind(self, kind: str) -> dict[str, Entity]:
        return {key: e for key, e in self.seen.items() if e.kind == kind}
