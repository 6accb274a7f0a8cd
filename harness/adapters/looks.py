"""Looks: everything one user can reach, read the way the profile says.

plain reads (lists, pages, exports), side by side ─► what they listed, learnt in order
`each` reads over every item the user has not read yet ─► discovered reads, once per user
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from harness.adapters.document import DocumentRoutes
from harness.adapters.http import HttpDriver
from harness.aio import each_bounded
from harness.client import Memory, Session, read
from harness.client.crawl import Crawl
from harness.client.discovery import Discovered, RouteTable
from harness.client.listing import Entity
from harness.client.reads import Reader
from harness.models import Actor, Observation
from harness.profile.model import ReadSpec
from harness.profile.steps import Prepared
from harness.profile.template import route_of

__all__ = ["EACH_CONCURRENCY", "Looks", "sample_heavy"]

# Reads one user's look runs at once over the items of one `each` read. A clinician who has
# just been handed every patient reads hundreds of recordings the others never see: one after
# another, that one user's chain was the whole look's length while the cores sat idle.
EACH_CONCURRENCY = 4

_DISCOVERED = ReadSpec.model_validate({"get": "/", "name": "discovered"})
_CRAWLED = ReadSpec.model_validate({"get": "/", "name": "crawled"})


Item = tuple[str, str | None, Mapping[str, Any]]  # key, owner, fields


def sample_heavy(
    items: list[Item], heavy: set[str], each: int, fresh: AbstractSet[str] = frozenset()
) -> tuple[list[Item], list[str]]:
    """A heavy owner's items as an `each` read visits them: its first and last `each` in list
    order (what a run made lands at one end of a list in date order); the keys of the rest
    come back as left out. Other owners' items are all kept, and so is every item in `fresh`
    (one the user first saw after their first look: the run made it), which does not count
    towards the ends: when a run makes more than `each` between two looks, the first of them
    would fall in the middle."""
    bulk = [item for item in items if item[0] not in fresh]
    total: Counter[str | None] = Counter(owner for _, owner, _ in bulk)
    seen: Counter[str | None] = Counter()
    kept: list[Item] = []
    skipped: list[str] = []
    for item in items:
        owner = item[1]
        if item[0] in fresh:
            kept.append(item)
            continue
        seen[owner] += 1
        if owner in heavy and each < seen[owner] <= total[owner] - each:
            skipped.append(item[0])
        else:
            kept.append(item)
    return kept, skipped


class Looks:
    def __init__(self, http: HttpDriver, document: DocumentRoutes) -> None:
        self.http = http
        self.client = http.client
        self.profile = http.client.profile
        self.document = document
        self.memories: dict[str, Memory] = {}
        self._listers: dict[str, None] = {}  # users in the order they first saw an entity
        self.unfilled: set[str] = set()
        # Routes found outside the profile and the document (an imported HAR, the browser's
        # traffic), each with its source; filled like the document's routes.
        self.extra: list[tuple[Discovered, str]] = []
        self.crawl: Crawl | None = None
        # (user, item) pairs of heavy owners' items that `each` reads left out (a sample)
        self.left_out: set[tuple[str, str]] = set()
        # Each entity key, by when any user's list first showed it (an order, not a time)
        self.listed: dict[str, int] = {}

    def forget(self) -> None:
        self.memories.clear()
        self._listers.clear()
        self.listed.clear()

    def memory(self, actor: Actor) -> Memory:
        if actor.id not in self.memories:
            self.memories[actor.id] = Memory(actor, self.client.world)
        return self.memories[actor.id]

    def reads_for(self, role: str) -> list[ReadSpec]:
        return [r for r in self.profile.reads if not r.roles or role in r.roles]

    def list_routes(self) -> set[str]:
        return {route for spec in self.profile.entities.values() for route in spec.lists}

    async def look(self, session: Session, step: str, lists_only: bool) -> list[Observation]:
        actor = session.actor
        lists = self.list_routes()
        plain = [
            r
            for r in self.reads_for(actor.role)
            if r.each is None
            and (not lists_only or any(route_of(s.method, s.path) in lists for s in r.steps))
        ]
        seen = await self._plain(session, plain, step)
        if lists_only:
            self.client.coverage.read_from("profile", _profiled(seen))
            self._first_look_done(actor)
            return seen
        for spec in self.reads_for(actor.role):
            if spec.each is not None:
                # In order, one read spec after another: a later `each` read may iterate what
                # this one's reads taught the user.
                seen += await self._each(session, spec, step)
        self.client.coverage.read_from("profile", _profiled(seen))
        seen += await self._discover(session, step)
        seen += await self._crawl(session, step, seen)
        self._first_look_done(actor)
        return seen

    def _first_look_done(self, actor: Actor) -> None:
        """What any user's list had shown by the end of this user's first look is the bulk a
        heavy owner's sample is taken from, for this user; anything first listed later, the
        run made, and it is read however many came at once. Any user's, not only this one's:
        a clinician handed a heavy patient mid-run sees their seeded archive for the first
        time, and reading all of it (124 recordings) was a fifth of the switch suite's reads."""
        memory = self.memory(actor)
        if memory.bulk_mark is None:
            memory.bulk_mark = len(self.listed)

    async def _read(
        self, session: Session, spec: ReadSpec, scope: Mapping[str, Any], step: str, about: str
    ) -> list[Observation]:
        return await self.http.run(read(self.client, session, spec, scope, step, about))

    def _learn(self, actor: Actor, observations: list[Observation]) -> None:
        memory = self.memory(actor)
        for obs in observations:
            listed = memory.learn(obs, self.client.entities)
            if listed:
                self._listers.setdefault(actor.id)
            for entity in listed:
                self.listed.setdefault(f"{entity.kind}:{entity.id}", len(self.listed))

    async def _plain(self, session: Session, reads: list[ReadSpec], step: str) -> list[Observation]:
        """The reads that need nothing learnt first (lists, pages, exports), `EACH_CONCURRENCY`
        at a time. What they teach the user is learnt afterwards in the reads' order, so which
        items a later `each` read visits, and in what order, does not depend on which answer
        came back first."""
        actor = session.actor
        results: list[list[Observation]] = [[] for _ in reads]
        scope = self.client.scope(actor)

        async def one(index: int) -> None:
            results[index] = await self._read(session, reads[index], scope, step, actor.id)

        await each_bounded(range(len(reads)), one, EACH_CONCURRENCY)
        for got in results:
            self._learn(actor, got)
        return [obs for got in results for obs in got]

    async def _each(self, session: Session, spec: ReadSpec, step: str) -> list[Observation]:
        """One `each` read over every item the user has not read yet, `EACH_CONCURRENCY` at
        a time; the observations come back in the items' order."""
        actor, kind = session.actor, spec.each
        assert kind is not None
        done = self.memory(actor).done
        todo = []
        for key, owner, item in self._items(actor, kind):
            mark = f"{spec.name or id(spec)}|{key}"
            if mark not in done:
                done.add(mark)
                todo.append((key, owner, item))
        results: list[list[Observation]] = [[] for _ in todo]
        entity = kind in self.profile.entities

        async def one(index: int) -> None:
            key, owner, item = todo[index]
            scope = {**self.client.scope(actor), kind: item}
            got = await self._read(session, spec, scope, step, owner or "")
            self._learn(actor, got)
            results[index] = [replace(o, entity=key) for o in got] if entity else got

        await each_bounded(range(len(todo)), one, EACH_CONCURRENCY)
        return [obs for got in results for obs in got]

    def _items(self, actor: Actor, kind: str) -> list[Item]:
        """Instances of `kind` this user may act on: entities seen in its lists (recordings),
        or resources of owners it may see (its own books, its patients' appointments). A
        heavy owner's are sampled: its first and its last `heavy.each` in list order, the rest
        counted as left out. Both ends, because what the run's flows made lands at one end of
        a list in date order (newest first or oldest first), not among the seeded bulk: a
        segment filed under a heavy owner during the run sat on page 11, past a head-only
        sample, and its media went unread."""
        world = self.client.world
        assert world is not None
        if kind in self.profile.entities:
            seen = self.memory(actor).of_kind(kind)
            found = [(key, e.owner, e.item) for key, e in seen.items()]
        else:
            found = [
                (r.key, r.owner, r.vars)
                for r in world.resources
                if r.kind == kind and world.ownership.may_see(actor.id, r.owner)
            ]
        if not world.heavy:
            return found
        mark = self.memory(actor).bulk_mark
        fresh = {key for key, _, _ in found if mark is not None and self._new(key, mark)}
        kept, skipped = sample_heavy(found, set(world.heavy), self.profile.heavy.each, fresh)
        self.left_out.update((actor.id, key) for key in skipped)
        self.client.coverage.bound("heavy_each_left_out", len(self.left_out))
        return kept

    def _new(self, key: str, mark: int) -> bool:
        first = self.listed.get(key)
        return first is None or first >= mark

    def known(self, extra: bool = True) -> RouteTable:
        """Every route the profile reads or the OpenAPI document names (and, with `extra`,
        the imported ones): not the crawl's."""
        routes = set(self.document.routes())
        for spec in self.profile.reads:
            for s in spec.steps:
                routes.add(route_of(s.method, s.path))
                if s.route:
                    routes.add(s.route)
        if extra:
            routes |= {d.route for d, _ in self.extra}
        return RouteTable(sorted(routes))

    async def _discover(self, session: Session, step: str) -> list[Observation]:
        routes: list[tuple[Discovered, str]] = []
        if self.profile.discover is not None:
            routes += [(d, "openapi") for d in self.document.discovered]
        routes += self.extra
        if not routes:
            return []
        spec = self.profile.discover
        limit = spec.max_per_route if spec is not None else 4
        memory = self.memory(session.actor)
        seen: list[Observation] = []
        for route, source in routes:
            paths = memory.pool.fillings(route, limit, loose=source != "openapi")
            if not paths and route.params:
                self.unfilled.add(route.route)
            for path in paths:
                if f"discover|{path}" in memory.done:
                    # A discovered read names one resource (or a fixed page): it is read once
                    # per user, unlike the lists the profile walks on every look.
                    continue
                memory.done.add(f"discover|{path}")
                prep = Prepared("GET", path, route.route)
                flow = Reader(self.client, session, step, _DISCOVERED, "", None).checked(prep)
                obs = await self.http.run(flow)
                self._learn(session.actor, [obs])
                self.client.coverage.read_from(source)
                seen.append(obs)
        return seen

    async def _crawl(
        self, session: Session, step: str, received: list[Observation]
    ) -> list[Observation]:
        """Follow what this user received to routes nobody named, breadth first, within the
        run's bounds. Each path is read once per user; what it answers is followed too."""
        crawl = self.crawl
        if crawl is None:
            return []
        memory = self.memory(session.actor)
        done = {o.url for o in received} | {
            mark.removeprefix("crawl|") for mark in memory.done if mark.startswith("crawl|")
        }
        queue = list(received)
        seen: list[Observation] = []
        while queue:
            obs = queue.pop(0)
            for path, route in crawl.candidates(obs, done):
                done.add(path)
                already = sum(1 for m in memory.done if m.startswith(f"crawl-route|{route}|"))
                if not crawl.admit(route, "crawl", already):
                    continue
                memory.done.add(f"crawl|{path}")
                memory.done.add(f"crawl-route|{route}|{path}")
                self.client.coverage.found(route, crawl.routes[route])
                prep = Prepared("GET", path, route)
                flow = Reader(self.client, session, step, _CRAWLED, "", None).checked(prep)
                got = await self.http.run(flow)
                self._learn(session.actor, [got])
                self.client.coverage.read_from("crawl")
                seen.append(got)
                queue.append(got)
        coverage = self.client.coverage
        coverage.bound("crawl_cut", crawl.cut)
        coverage.bound("crawl_refused", crawl.refused)
        coverage.bound("crawl_off_origin", crawl.off_origin)
        return seen

    def entities_of(self, owner: str, kind: str) -> list[Entity]:
        """Entities of `kind` owned by `owner` that someone has seen in a list, oldest first,
        not yet denied to everyone (a deleted recording is not acted on again)."""
        found: dict[str, Entity] = {}
        for actor in self._listers:
            for key, entity in self.memories[actor].seen.items():
                if entity.kind == kind and entity.owner == owner:
                    found.setdefault(key, entity)
        world = self.client.world
        assert world is not None
        gone = {f"{d.kind}:{d.entity}" for d in world.ownership.visibility.denials()}
        return [e for k, e in found.items() if k not in gone]


def _profiled(seen: list[Observation]) -> int:
    """The reads as the profile wrote them; their request shapes count as `variants`
    (harness.client.reads.shapes)."""
    return sum("(variant: " not in obs.endpoint for obs in seen)
