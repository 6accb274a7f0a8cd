"""The target a YAML profile drives: seeding, sessions, looks, flows and the access replay.

    population ─► reset, create users, relate them, create resources ─► World
    actor ─► login steps ─► Session (captures, headers, cookies; re-login on 401 or age)
    look ─► explicit reads (pages walked) ─► entities seen ─► `each` reads ─► discovered reads
    flow ─► its steps, each judged against `expect`
    replay_as ─► an earlier read, repeated with another session's credentials

Every read is recorded in `coverage`: checked, or lost with its reason (a 401 that a re-login
did not cure, a 5xx, no answer). A denial (403, 404, or a 401 while the session is provably
alive) is a check that passed, not lost coverage.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from harness.adapters import FlowResult, Session
from harness.adapters.discovery import (
    Discovered,
    RouteTable,
    ValuePool,
    discovered_routes,
    parse_document,
)
from harness.adapters.listing import Entity, EntityParser, next_page, page_route
from harness.aio import each_bounded
from harness.canaries import Denial
from harness.coverage import Coverage
from harness.driver import Driver, Overflow
from harness.errors import ConfigError, InfrastructureError, TargetUnreachable, UsageError
from harness.models import ANONYMOUS, Actor, Observation
from harness.oracles import Listing
from harness.population import Planned, PlannedUser, Population
from harness.profile.model import FlowSpec, HttpStep, ReadSpec, TargetProfile
from harness.profile.noreset import seeding_hint
from harness.profile.steps import Prepared, capture_all, is_success, prepare
from harness.profile.template import acting, render, route_of
from harness.push import PushListener
from harness.world import Resource, World

__all__ = ["ProfileTarget"]

_SEED_CONCURRENCY = 8
# Reads one user's look runs at once over the items of one `each` read. A clinician who has
# just been handed every patient reads hundreds of recordings the others never see: one after
# another, that one user's chain was the whole look's length while the cores sat idle.
_EACH_CONCURRENCY = 4
_RESET_ATTEMPTS = 4
# Set while a look's plain reads run side by side: what they teach is learnt after, in order.
_LEARN_LATER: ContextVar[list[Observation] | None] = ContextVar("_LEARN_LATER", default=None)
RANGE_CUT = 64  # first Range request ends here: inside the media header, where canaries sit


class ProfileTarget:
    """`Target` for any app a profile describes (see harness.profile.model)."""

    def __init__(
        self,
        profile: TargetProfile,
        base_url: str,
        support_token: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        profile_dir: str = ".",
    ) -> None:
        self.profile = profile
        self.base_url = base_url.rstrip("/")
        self.profile_dir = Path(profile_dir)
        self.coverage = Coverage()
        self._driver = Driver(self.base_url, transport=transport)
        self._support_token = support_token
        self._world: World | None = None
        self._entities: EntityParser | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.relogins = 0  # sessions refreshed (expired, or old): the report counts them
        self._alive: dict[tuple[str, int], bool] = {}
        self._seen: dict[str, dict[str, Entity]] = {}  # actor -> entity key -> entity
        self._done: dict[str, set[str]] = {}  # actor -> each-reads already made
        self._pools: dict[str, ValuePool] = {}
        self._discovered: list[Discovered] = []
        self._unfilled: set[str] = set()
        self._routes = RouteTable(())
        self._canonical: dict[str, str] = {}
        self._unsafe = [*profile.unsafe, *(route_of(s.method, s.path) for s in profile.reset)]

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def world(self) -> World:
        if self._world is None:
            raise InfrastructureError("the target has not been seeded", "seed before reading")
        return self._world

    @property
    def retries(self) -> int:
        return self._driver.retries

    def set_overflow(self, sink: Overflow | None) -> None:
        """Where the parts of bodies larger than the response cap go to be judged."""
        self._driver.overflow = sink

    def has_flow(self, name: str) -> bool:
        return name in self.profile.flows

    def is_unsafe(self, route: str) -> bool:
        return any(fnmatch.fnmatchcase(route, pattern) for pattern in self._unsafe)

    def _support_headers(self) -> dict[str, str]:
        if self.profile.support is None:
            return {}
        scope = {"support": {"token": self._support_token}}
        return {k: render(v, scope) for k, v in self.profile.support.headers.items()}

    async def _send(
        self, session: Session | None, prep: Prepared, step: str, *, retry: bool | None = None
    ) -> Observation:
        """Send as `session`; an expired session is logged in again and the request repeated."""
        actor = session.actor if session is not None else ANONYMOUS
        if prep.auth == "session" and _authenticated(session):
            assert session is not None
            await self._fresh(session)
        obs = await self._once(session, prep, step, actor, retry)
        if (
            prep.auth == "session"
            and _authenticated(session)
            and obs.status in self.profile.auth.relogin.on_status
        ):
            assert session is not None
            await self._relogin(session, session.generation)
            obs = await self._once(session, prep, step, actor, retry)
        return obs

    async def _once(
        self,
        session: Session | None,
        prep: Prepared,
        step: str,
        actor: Actor,
        retry: bool | None,
        extra: Mapping[str, str] | None = None,
    ) -> Observation:
        headers = dict(prep.headers)
        if prep.auth == "support":
            headers.update(self._support_headers())
        elif prep.auth == "session" and session is not None:
            headers.update(session.credentials())
        headers.update(extra or {})
        return await self._driver.request(
            actor.id,
            step,
            prep.method,
            prep.path,
            prep.route,
            headers=headers,
            json=prep.json_body,
            data=prep.form,
            retry=retry,
        )

    # -- setup --------------------------------------------------------------------------------

    async def check(self) -> None:
        if self.profile.needs_support() and not self._support_token:
            assert self.profile.support is not None
            env = self.profile.support.token_env
            raise UsageError(
                f"profile '{self.profile.name}' uses a staging support API but no token was given",
                f"pass --support-token or set {env}",
            )
        if self.profile.health is not None:
            prep = prepare(self.profile.health, {})
            obs = await self._once(None, replace(prep, auth="none"), "check", ANONYMOUS, True)
            if not is_success(self.profile.health, obs.status):
                raise TargetUnreachable(
                    f"{self.base_url}{prep.path} answered {obs.status}",
                    "point --target at a running instance of the app the profile describes",
                )
        if self.profile.discover is not None and not self._discovered:
            await self._load_document()

    async def _load_document(self) -> None:
        spec = self.profile.discover
        assert spec is not None
        local = self.profile_dir / spec.openapi
        if local.is_file() or not spec.openapi.startswith("/"):
            try:
                text = local.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the OpenAPI document {local}: {exc.strerror}",
                    "fix discover.openapi (a URL path on the target, or a file)",
                ) from None
            document = parse_document(text, str(local))
        else:
            prep = Prepared("GET", spec.openapi, f"GET {spec.openapi}", auth="none")
            obs = await self._once(None, prep, "discover", ANONYMOUS, True)
            if obs.status != 200:
                raise ConfigError(
                    f"the target answered {obs.status} for its OpenAPI document {spec.openapi}",
                    "fix discover.openapi, or drop discover: to use explicit reads only",
                )
            try:
                document = parse_document(obs.body.decode("utf-8", "replace"), spec.openapi)
            except ConfigError as exc:
                # Name what came back: an HTML maintenance page is not a broken profile.
                raise ConfigError(
                    f"the target answered {obs.content_type or 'no content type'} for its "
                    f"OpenAPI document {spec.openapi}: {exc.problem}",
                    exc.fix,
                ) from None
        every = [f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item]
        self._routes = RouteTable(every)
        # The document's names win: `/api/recordings/{{recording.id}}` in the profile and
        # `/api/recordings/{recording_id}` in the document are one route.
        self._canonical = {_shape(route): route for route in every}
        explicit = {
            self.canonical(route_of(s.method, s.path))
            for read in self.profile.reads
            for s in read.steps
        }
        own_calls = {
            self.canonical(route_of(s.method, s.path))
            for s in [*self.profile.auth.login, *self.profile.reset]
        }
        self._discovered = [
            d
            for d in discovered_routes(document, explicit | own_calls, spec.exclude)
            if not self.is_unsafe(d.route)
        ]

    def canonical(self, route: str) -> str:
        """The OpenAPI document's name for a route, when the app has a document."""
        return self._canonical.get(_shape(route), route)

    async def seed(self, population: Population) -> World:
        for step in self.profile.reset:
            # A reset is idempotent, so a 5xx is retried: VAmPI's `GET /createdb` picks random
            # unique book titles and answers 500 on a collision, one reset in five or so.
            await self._setup_step(step, {}, "reset", attempts=_RESET_ATTEMPTS)
        limit = asyncio.Semaphore(_SEED_CONCURRENCY)
        scope_run = {"run": {"tag": population.tag, "seed": population.seed}}
        users = await asyncio.gather(
            *(self._create_user(u, scope_run, limit) for u in population.users)
        )
        actors = {a.id: a for a in users}
        for relation, observer, owner in population.relations:
            spec = self.profile.relations[relation]
            pair = {"observer": _vars(actors[observer]), "owner": _vars(actors[owner])}
            # each side by its role's name too, when that names one side only
            named = {spec.observer: pair["observer"], spec.owner: pair["owner"]}
            scope = {**scope_run, **(named if len(named) == 2 else {}), **pair}
            for step in spec.create:
                await self._setup_step(step, scope, f"relate/{relation}")
        self._world = World(
            self.base_url,
            population.seed,
            actors,
            population.ownership,
            (),
            _doc(self.profile),
            population.tag,
        )
        resources = await asyncio.gather(
            *(self._create_resource(r, actors, scope_run, limit) for r in population.resources)
        )
        self._world = replace(self._world, resources=tuple(resources))
        self.world_changed(self._world)
        return self._world

    def world_changed(self, world: World) -> None:
        self._world = world
        self._entities = EntityParser(self.profile, world)
        self._seen.clear()
        self._done.clear()
        self._pools.clear()
        self._alive.clear()

    async def _create_user(
        self, user: PlannedUser, scope_run: Mapping[str, Any], limit: asyncio.Semaphore
    ) -> Actor:
        values: dict[str, Any] = {**user.fields, "actor": user.id}
        spec = self.profile.roles[user.role]
        async with limit:
            for step in spec.create:
                scope = {**scope_run, **acting(user.role, values)}
                values |= await self._setup_step(step, scope, "create")
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
        session = await self.login(owner) if spec.as_ == "owner" else None
        async with limit:
            for step in spec.create:
                scope = {
                    **self._scope(owner),
                    **scope_run,
                    "owner": _vars(owner),
                    planned.kind: values,
                }
                auth = (
                    step.auth
                    if spec.as_ == "owner"
                    else ("support" if spec.as_ == "support" else "none")
                )
                values |= await self._setup_step(
                    step, scope, f"create/{planned.kind}", session, auth
                )
        return Resource(planned.kind, planned.owner, planned.index, values)

    async def _setup_step(
        self,
        step: HttpStep,
        scope: Mapping[str, Any],
        what: str,
        session: Session | None = None,
        auth: str | None = None,
        attempts: int = 1,
    ) -> dict[str, Any]:
        prep = prepare(step, scope)
        if auth is not None:
            prep = replace(prep, auth=auth)
        elif prep.auth == "session" and session is None:
            prep = replace(prep, auth="none")  # nobody is logged in while seeding
        obs = await self._send(session, prep, f"seed/{what}", retry=False)
        for attempt in range(1, attempts):
            if obs.status < 500:
                break
            await asyncio.sleep(0.2 * attempt)
            obs = await self._send(session, prep, f"seed/{what}", retry=False)
        if not is_success(step, obs.status):
            raise InfrastructureError(
                f"could not {what}: {prep.method} {prep.path.split('?', 1)[0]} answered "
                f"{obs.status}: {_detail(obs)}",
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

    # -- sessions -----------------------------------------------------------------------------

    async def login(self, actor: Actor) -> Session:
        session = Session(actor=actor)
        await self._login_into(session)
        return session

    def anonymous(self) -> Session:
        return Session(actor=ANONYMOUS)

    async def _login_into(self, session: Session) -> None:
        auth = self.profile.auth
        captures: dict[str, Any] = {}
        scope = {**self._scope(session.actor)}
        for step in auth.login:
            prep = prepare(step, {**scope, **captures})
            obs = await self._once(None, replace(prep, auth="none"), "login", session.actor, False)
            if not is_success(step, obs.status):
                raise InfrastructureError(
                    f"could not log in as {session.actor.id}: {prep.method} "
                    f"{prep.path.split('?', 1)[0]} answered {obs.status}: {_detail(obs)}",
                    "check the profile's auth.login steps and that the user was created",
                )
            try:
                captures |= capture_all(step, obs.headers, obs.body)
            except KeyError as exc:
                raise InfrastructureError(
                    f"logging in as {session.actor.id} gave no {exc.args[0]}",
                    "fix auth.login's capture in the profile",
                ) from None
        full = {**scope, **captures}
        session.captures = captures
        session.headers = {k: render(v, full) for k, v in auth.apply_headers.items()}
        session.cookies = {k: render(v, full) for k, v in auth.cookies.items()}
        session.obtained = time.time()
        session.generation += 1

    def _lock(self, actor: str) -> asyncio.Lock:
        return self._locks.setdefault(actor, asyncio.Lock())

    async def _relogin(self, session: Session, generation: int) -> None:
        async with self._lock(session.actor.id):
            if session.generation == generation:  # nobody refreshed it while we waited
                await self._login_into(session)
                self.relogins += 1

    async def _fresh(self, session: Session) -> None:
        every = self.profile.auth.relogin.every_seconds
        if every and time.time() - session.obtained > every:
            await self._relogin(session, session.generation)

    async def _alive_check(self, session: Session) -> bool:
        """Is this session live? Tells a denial (401 from a live session) from an expiry."""
        check = self.profile.auth.check
        if check is None:
            return False
        key = (session.actor.id, session.generation)
        if key not in self._alive:
            obs = await self._once(
                session,
                prepare(check, self._scope(session.actor)),
                "session-check",
                session.actor,
                True,
            )
            self._alive[key] = is_success(check, obs.status)
        return self._alive[key]

    # -- scopes -------------------------------------------------------------------------------

    def _scope(self, actor: Actor, resource: Resource | None = None) -> dict[str, Any]:
        scope: dict[str, Any] = {
            **acting(actor.role, _vars(actor)),
            "support": {"token": self._support_token},
        }
        if self._world is not None:
            scope["run"] = {"tag": self._world.tag, "seed": self._world.seed}
            owner = actor
            if resource is not None:
                scope[resource.kind] = dict(resource.vars)
                owner = self._world.actors.get(resource.owner, actor)
                scope["owner"] = _vars(owner)
            for name in self.profile.relations:
                related = self._world.ownership.visibility.related(name, owner.id)
                if related and related[0] in self._world.actors:
                    scope[name] = _vars(self._world.actors[related[0]])
        return scope

    # -- flows --------------------------------------------------------------------------------

    def performer(self, name: str, owner: str) -> str | None:
        """Who runs flow `name` for `owner`: the owner, or (`by: relation`) the observer
        related to them now; None when nobody is."""
        spec = self.profile.flows[name]
        if spec.by is None:
            return owner
        related = self.world.ownership.visibility.related(spec.by, owner)
        effect = spec.effect
        relation = effect.relation if effect is not None and effect.change == "move" else None
        if relation is not None and self._next_observer(relation, owner) is None:
            return None  # already with the receiver: nothing to move
        return related[0] if related else None

    def entities_of(self, owner: str, kind: str) -> list[Entity]:
        """Entities of `kind` owned by `owner` that someone has seen in a list, oldest first,
        not yet denied to everyone (a deleted recording is not acted on again)."""
        found: dict[str, Entity] = {}
        for seen in self._seen.values():
            for key, entity in seen.items():
                if entity.kind == kind and entity.owner == owner:
                    found.setdefault(key, entity)
        gone = {f"{d.kind}:{d.entity}" for d in self.world.ownership.visibility.denials()}
        return [e for k, e in found.items() if k not in gone]

    async def flow(
        self,
        session: Session,
        name: str,
        resource: Resource | None,
        step: str,
        owner: str | None = None,
    ) -> FlowResult:
        spec = self.profile.flows[name]
        whose = owner or (resource.owner if resource is not None else session.actor.id)
        subject = self.world.actors.get(whose, session.actor) if self._world else session.actor
        scope = self._scope(subject, resource)
        scope.update(acting(session.actor.role, _vars(session.actor)))
        scope["owner"] = _vars(subject)
        entity = None
        if spec.entity is not None:
            candidates = self.entities_of(subject.id, spec.entity)
            if not candidates:
                raise InfrastructureError(
                    f"flow {name} for {subject.id}: no {spec.entity} of theirs was ever listed",
                    "run a flow that creates one (and a look) before this one",
                )
            entity = candidates[-1]
            scope[spec.entity] = dict(entity.item)
        if spec.effect is not None and spec.effect.relation is not None:
            moved_to = self._next_observer(spec.effect.relation, subject.id)
            if moved_to is not None:
                scope[f"{spec.effect.relation}_next"] = _vars(self.world.actors[moved_to])
        started = time.time()
        captures: dict[str, Any] = {}
        seen: list[Observation] = []
        for http_step in spec.steps:
            prep = prepare(http_step, {**scope, **captures})
            obs = await self._send(session, prep, step, retry=False)
            seen.append(obs)
            if not is_success(http_step, obs.status):
                conflict = obs.status in spec.conflict
                return FlowResult(tuple(seen), False, obs.status, conflict)
            try:
                captures |= capture_all(http_step, obs.headers, obs.body)
            except KeyError as exc:
                raise InfrastructureError(
                    f"flow {name} as {session.actor.id}: {prep.route} gave no {exc.args[0]}",
                    "fix the flow's capture in the profile",
                ) from None
        if spec.effect is not None:
            why = f"{name} for {subject.id}"
            self._apply(why, spec, subject.id, entity, started, time.time(), scope)
        return FlowResult(tuple(seen), True)

    def _next_observer(self, relation: str, owner: str) -> str | None:
        """Where a move takes `owner`: the last observer of the relation's role, in id order;
        None when that one is already related (such an owner stays put).

        Every move goes one way, into one receiver, so the others only give patients away: a
        stale cache or grant on the giving side cannot be hidden by a move back into it (two
        clinicians swapping patients would each refresh their own caseload)."""
        spec = self.profile.relations[relation]
        role = sorted(a.id for a in self.world.actors.values() if a.role == spec.observer)
        if not role:
            return None
        target = role[-1]
        current = self.world.ownership.visibility.related(relation, owner)
        return None if target in current else target

    def _apply(
        self,
        why: str,
        spec: FlowSpec,
        owner: str,
        entity: Entity | None,
        started: float,
        done: float,
        scope: Mapping[str, Any],
    ) -> None:
        """Record what the flow changed, so later reads are judged by the new relations: an
        ended relation from when the change completed, a new one from when it started."""
        effect = spec.effect
        assert effect is not None
        visibility = self.world.ownership.visibility
        if effect.relation is not None:
            for observer in visibility.related(effect.relation, owner, at=started):
                visibility.revoke(observer, owner, effect.relation, at=done)
            target = scope.get(f"{effect.relation}_next")
            if effect.change == "move" and isinstance(target, Mapping):
                visibility.grant(str(target["actor"]), owner, effect.relation, since=started)
            return
        if entity is None:
            return
        observers: frozenset[str] = frozenset()
        if effect.to == "related":
            observers = frozenset(visibility.observers_of(owner, at=started))
        visibility.deny(Denial(entity.kind, entity.id, done, observers, reason=why))

    # -- push and notifications --------------------------------------------------------------

    async def listen(self, session: Session) -> PushListener | None:
        push = self.profile.push
        if push is None or push.websocket is None:
            return None
        url = "ws" + self.base_url.removeprefix("http") + push.websocket
        listener = PushListener(session, url, f"WS {push.websocket}")
        await listener.start()
        return listener

    async def flush_notifications(self) -> None:
        spec = self.profile.notifications
        if spec is None or spec.flush is None:
            return
        await self._setup_step(spec.flush, self._scope(ANONYMOUS), "flush notifications")

    def recipients(self) -> dict[str, dict[str, str]]:
        """channel -> address -> actor: who a notification sent to an address reached."""
        spec = self.profile.notifications
        book: dict[str, dict[str, str]] = {}
        if spec is None or self._world is None:
            return book
        for channel, rule in (("mail", spec.mail), ("sms", spec.sms)):
            if rule is None:
                continue
            book[channel] = {
                str(a.vars[rule.recipient]).lower(): a.id
                for a in self._world.actors.values()
                if rule.recipient in a.vars
            }
        return book

    # -- looking ------------------------------------------------------------------------------

    def reads_for(self, role: str) -> list[ReadSpec]:
        return [r for r in self.profile.reads if not r.roles or role in r.roles]

    def list_routes(self) -> set[str]:
        return {route for spec in self.profile.entities.values() for route in spec.lists}

    async def look(
        self, session: Session, step: str, *, lists_only: bool = False
    ) -> list[Observation]:
        actor = session.actor
        pool = self._pool(actor)
        lists = self.list_routes()
        plain = [
            read
            for read in self.reads_for(actor.role)
            if read.each is None
            and (not lists_only or any(route_of(s.method, s.path) in lists for s in read.steps))
        ]
        seen = await self._plain(session, plain, step)
        if lists_only:
            return seen
        for read in self.reads_for(actor.role):
            if read.each is None:
                continue
            # In order, one read spec after another: a later `each` read may iterate what
            # this one's reads taught the user (`_learn`).
            seen += await self._each(session, read, step)
        seen += await self._discover(session, step, pool)
        return seen

    async def _plain(self, session: Session, reads: list[ReadSpec], step: str) -> list[Observation]:
        """The reads that need nothing learnt first (lists, pages, exports), `_EACH_CONCURRENCY`
        at a time. What they teach the user is learnt afterwards in the reads' order, so which
        items a later `each` read visits, and in what order, does not depend on which answer
        came back first."""
        actor = session.actor
        results: list[list[Observation]] = [[] for _ in reads]
        taught: list[list[Observation]] = [[] for _ in reads]

        async def one(index: int) -> None:
            token = _LEARN_LATER.set(taught[index])
            try:
                got = await self._read(session, reads[index], self._scope(actor), step, actor.id)
                results[index] = got
            finally:
                _LEARN_LATER.reset(token)

        await each_bounded(range(len(reads)), one, _EACH_CONCURRENCY)
        for observations in taught:
            for obs in observations:
                self._learn(actor, obs)
        return [obs for got in results for obs in got]

    async def _each(self, session: Session, read: ReadSpec, step: str) -> list[Observation]:
        """One `each` read over every item the user has not read yet, `_EACH_CONCURRENCY` at
        a time; the observations come back in the items' order."""
        actor, kind = session.actor, read.each
        assert kind is not None
        done = self._done.setdefault(actor.id, set())
        todo = []
        for key, owner, item in self._items(actor, kind):
            mark = f"{read.name or id(read)}|{key}"
            if mark not in done:
                done.add(mark)
                todo.append((key, owner, item))
        results: list[list[Observation]] = [[] for _ in todo]
        entity = kind in self.profile.entities

        async def one(index: int) -> None:
            key, owner, item = todo[index]
            scope = {**self._scope(actor), kind: item}
            got = await self._read(session, read, scope, step, owner or "")
            results[index] = [replace(o, entity=key) for o in got] if entity else got

        await each_bounded(range(len(todo)), one, _EACH_CONCURRENCY)
        return [obs for got in results for obs in got]

    def _items(self, actor: Actor, kind: str) -> list[tuple[str, str | None, Mapping[str, Any]]]:
        """Instances of `kind` this user may act on: entities seen in its lists (recordings),
        or resources of owners it may see (its own books, its patients' appointments)."""
        if kind in self.profile.entities:
            return [
                (key, e.owner, e.item)
                for key, e in self._seen.get(actor.id, {}).items()
                if e.kind == kind
            ]
        world = self.world
        return [
            (r.key, r.owner, r.vars)
            for r in world.resources
            if r.kind == kind and world.ownership.may_see(actor.id, r.owner)
        ]

    def _pool(self, actor: Actor) -> ValuePool:
        if actor.id not in self._pools:
            pool = ValuePool()
            for name, value in actor.vars.items():
                pool.add(name, value, own=True)
            if self._world is not None:
                for resource in self._world.resources_of(actor.id):
                    for name, value in resource.vars.items():
                        pool.add(name, value, own=True)
            self._pools[actor.id] = pool
        return self._pools[actor.id]

    async def _read(
        self,
        session: Session,
        read: ReadSpec,
        scope: Mapping[str, Any],
        step: str,
        about: str,
    ) -> list[Observation]:
        """One read: its steps in order, the last one's list walked to its end."""
        seen: list[Observation] = []
        captures: dict[str, Any] = {}
        for index, http_step in enumerate(read.steps):
            prep = self._routed(prepare(http_step, {**scope, **captures}))
            last = index == len(read.steps) - 1
            if http_step.range == "halves":
                got = await self._halves(session, prep, step, read, about)
            elif last and read.page is not None:
                got = await self._pages(session, prep, step, read, about)
            else:
                got = [await self._checked(session, prep, step, read, about)]
            seen += got
            if not got or not is_success(http_step, got[-1].status):
                break  # later steps need this one's captures
            try:
                captures |= capture_all(http_step, got[-1].headers, got[-1].body)
            except KeyError:
                break
        return seen

    def _routed(self, prep: Prepared) -> Prepared:
        """A path that came from a capture reports under the document's route for it; any
        other route under the document's name for it."""
        if "{" in prep.route and prep.route.split(" ", 1)[1].startswith("{"):
            found = self._routes.route(prep.method, prep.path)
            return replace(prep, route=found or f"{prep.method} {prep.path.split('?', 1)[0]}")
        return replace(prep, route=self.canonical(prep.route))

    async def _checked(
        self,
        session: Session,
        prep: Prepared,
        step: str,
        read: ReadSpec | None,
        about: str,
        extra: Mapping[str, str] | None = None,
        route: str | None = None,
    ) -> Observation:
        """Send one read and record whether it really checked anything."""
        route = route or prep.route
        observer = session.actor.id
        try:
            obs = (
                await self._send(session, prep, step, retry=True)
                if not extra
                else (await self._once(session, prep, step, session.actor, True, extra))
            )
        except TargetUnreachable as exc:
            self.coverage.lost(route, observer, about or observer, f"no answer ({exc.problem})")
            raise
        obs = replace(obs, endpoint=route, about=about if about != observer else "")
        if read is not None and read.replay and not self.is_unsafe(prep.route):
            obs = replace(obs, read=route)
        await self._count(session, obs, route, about)
        later = _LEARN_LATER.get()
        if later is None:
            self._learn(session.actor, obs)
        else:
            later.append(obs)
        return obs

    async def _count(self, session: Session, obs: Observation, route: str, about: str) -> None:
        observer, owner = session.actor.id, about or session.actor.id
        if obs.status >= 500:
            self.coverage.lost(route, observer, owner, f"HTTP {obs.status}")
        elif (
            obs.status in self.profile.auth.relogin.on_status
            and _authenticated(session)
            and not await self._alive_check(session)
        ):
            self.coverage.lost(route, observer, owner, f"HTTP {obs.status} after re-login")
        else:
            self.coverage.checked(route, observer, owner)

    def _learn(self, actor: Actor, obs: Observation) -> None:
        """Remember values (for discovery) and entities (for `each` reads) the user saw."""
        if obs.status != 200:
            return
        pool = self._pool(actor)
        if "json" in obs.content_type:
            pool.harvest(obs.body)
        if self._entities is None:
            return
        for entity in self._entities.entities(obs) or ():
            key = f"{entity.kind}:{entity.id}"
            self._seen.setdefault(actor.id, {}).setdefault(key, entity)
            pool.add_entity(entity.kind, entity.id, own=entity.owner == actor.id)

    async def _pages(
        self, session: Session, prep: Prepared, step: str, read: ReadSpec, about: str
    ) -> list[Observation]:
        assert read.page is not None
        seen: list[Observation] = []
        visited: set[str] = set()
        current = prep
        for page in range(1, read.page.max_pages + 1):
            obs = await self._checked(
                session, current, step, read, about, route=page_route(prep.route, page)
            )
            seen.append(obs)
            visited.add(current.path)
            if obs.status != 200:
                break
            entities = (
                self._entities.entities(replace(obs, endpoint=prep.route))
                if self._entities
                else None
            )
            following = next_page(
                obs, read.page, len(entities) if entities is not None else None, page
            )
            if following is None or following in visited:
                return seen
            current = replace(prep, path=following)
        else:
            self.coverage.lost(
                prep.route,
                session.actor.id,
                about or session.actor.id,
                f"page bound reached ({read.page.max_pages} pages)",
            )
        return seen

    async def _halves(
        self, session: Session, prep: Prepared, step: str, read: ReadSpec, about: str
    ) -> list[Observation]:
        """Fetch a body in two Range requests, as a player would, so seams are exercised."""
        first = await self._checked(
            session, prep, step, read, about, extra={"Range": f"bytes=0-{RANGE_CUT - 1}"}
        )
        if first.status != 206 or first.byte_range is None:
            return [first]
        total = _total_size(first)
        if total is None or total <= RANGE_CUT:
            return [first]
        rest = await self._checked(
            session, prep, step, read, about, extra={"Range": f"bytes={RANGE_CUT}-{total - 1}"}
        )
        return [first, rest]

    async def _discover(self, session: Session, step: str, pool: ValuePool) -> list[Observation]:
        if not self._discovered or self.profile.discover is None:
            return []
        limit = self.profile.discover.max_per_route
        seen: list[Observation] = []
        done = self._done.setdefault(session.actor.id, set())
        for route in self._discovered:
            paths = pool.fillings(route, limit)
            if not paths and route.params:
                self._unfilled.add(route.route)
            for path in paths:
                if f"discover|{path}" in done:
                    # A discovered read names one resource (or a fixed page): it is read once
                    # per user, unlike the lists the profile walks on every look.
                    continue
                done.add(f"discover|{path}")
                prep = Prepared("GET", path, route.route)
                seen.append(await self._checked(session, prep, step, _DISCOVERED, ""))
        return seen

    def unfilled_routes(self) -> list[str]:
        return sorted(self._unfilled)

    def discovered(self) -> list[Discovered]:
        return list(self._discovered)

    # -- the access replay --------------------------------------------------------------------

    async def replay_as(self, session: Session, observation: Observation) -> Observation | None:
        if not observation.read or self.is_unsafe(observation.read):
            return None
        extra: dict[str, str] = {}
        if observation.byte_range is not None:
            extra["Range"] = f"bytes={observation.byte_range[0]}-{observation.byte_range[1]}"
        if observation.sent_content_type:
            extra["Content-Type"] = observation.sent_content_type
        prep = Prepared(observation.method, observation.url, observation.read)
        about = observation.about or observation.actor
        step = f"access/{observation.actor}->{session.actor.id}"
        route = observation.endpoint
        if observation.sent_body:
            return await self._replay_with_body(session, prep, step, observation, about, extra)
        obs = await self._checked(session, prep, step, _REPLAYED, about, extra or None, route)
        return replace(obs, entity=observation.entity)

    async def _replay_with_body(
        self,
        session: Session,
        prep: Prepared,
        step: str,
        original: Observation,
        about: str,
        extra: Mapping[str, str],
    ) -> Observation:
        headers = {**extra, **(session.credentials() if _authenticated(session) else {})}
        obs = await self._driver.request(
            session.actor.id,
            step,
            prep.method,
            prep.path,
            original.endpoint,
            headers=headers,
            content=original.sent_body,
            retry=False,
        )
        obs = replace(
            obs,
            read=original.read,
            about=about if about != session.actor.id else "",
            entity=original.entity,
        )
        await self._count(session, obs, original.endpoint, about)
        return obs

    def listing(self, observation: Observation) -> Listing | None:
        return self._entities.listing(observation) if self._entities is not None else None

    async def aclose(self) -> None:
        await self._driver.aclose()


_DISCOVERED = ReadSpec.model_validate({"get": "/", "name": "discovered"})
_REPLAYED = ReadSpec.model_validate({"get": "/", "name": "replayed", "replay": False})


def _shape(route: str) -> str:
    """A route with its parameter names erased: the same route under any naming."""
    return re.sub(r"\{[^}]*\}", "{}", route)


def _authenticated(session: Session | None) -> bool:
    return session is not None and not session.actor.is_anonymous


def _vars(actor: Actor) -> dict[str, Any]:
    return {**actor.vars, "actor": actor.id}


def _doc(profile: TargetProfile) -> dict[str, Any]:
    document: dict[str, Any] = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def _detail(obs: Observation) -> str:
    return obs.body[:160].decode("utf-8", "replace").replace("\n", " ")


def _total_size(obs: Observation) -> int | None:
    value = obs.header("content-range") or ""
    _, _, total = value.rpartition("/")
    return int(total) if total.isdigit() else None
