"""The target a YAML profile drives, over httpx: a thin driver of the profile client.

    population ─► Seeder (reset, users, relations, resources) ─► World
    actor ─► ProfileClient.login ─► Session (re-login on `relogin` status or age)
    look ─► Looks: explicit reads (lists walked) ─► `each` reads ─► discovered reads
    flow ─► Flows: its steps; a visibility change is reported to the World, which applies it
    replay_as ─► an earlier read, repeated with another session's credentials

What is sent, and what a response proves, is `harness.client`'s (shared with the load and the
browser suites); the modules here only send it and keep who saw what. Every read is recorded
in `coverage`: checked, or lost with its reason (a 401 that a re-login did not cure, a 5xx, no
answer, a list past its page bound). A denial (403, 404, or a 401 while the session is provably
alive) is a check that passed, not lost coverage.
"""

from __future__ import annotations

import re
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path

import httpx

from harness.adapters import FlowResult
from harness.adapters.calls import make_caller, media_plan, recorded_in
from harness.adapters.document import DocumentRoutes
from harness.adapters.flows import Flows
from harness.adapters.http import HttpDriver
from harness.adapters.looks import Looks
from harness.adapters.replay import replay_as
from harness.adapters.seeding import Seeder
from harness.client import ProfileClient, Session
from harness.client.crawl import Crawl
from harness.client.discovery import Discovered
from harness.client.listing import Entity
from harness.coverage import Coverage
from harness.driver import Overflow
from harness.errors import InfrastructureError, TargetUnreachable, UsageError
from harness.media_call import MediaPlan
from harness.models import ANONYMOUS, Actor, Observation
from harness.oracles import Listing
from harness.population import Population
from harness.profile.model import ReadSpec, TargetProfile
from harness.profile.steps import is_success, prepare
from harness.push import PushListener
from harness.rtc_caller import Caller
from harness.world import Resource, World

__all__ = ["ProfileTarget"]


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
        self.client = ProfileClient(profile, support_token)
        self._http = HttpDriver(self.client, self.base_url, transport)
        self._document = DocumentRoutes(self._http, self.profile_dir)
        self.client.name_route = self._document.routed
        self._looks = Looks(self._http, self._document)
        self._flows = Flows(self._http, self._looks)
        self._seeder = Seeder(self._http, self.base_url)
        self._pending: list[tuple[str, str]] = []  # added routes, admitted once checked
        self._checked = False

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def coverage(self) -> Coverage:
        return self.client.coverage

    @property
    def world(self) -> World:
        if self.client.world is None:
            raise InfrastructureError("the target has not been seeded", "seed before reading")
        return self.client.world

    @property
    def retries(self) -> int:
        return self._http.driver.retries

    @property
    def relogins(self) -> int:
        return self._http.relogins

    def set_overflow(self, sink: Overflow | None) -> None:
        """Where the parts of bodies larger than the response cap go to be judged."""
        self._http.driver.overflow = sink

    def has_flow(self, name: str) -> bool:
        return name in self.profile.flows

    def is_unsafe(self, route: str) -> bool:
        return self.client.is_unsafe(route)

    def canonical(self, route: str) -> str:
        """The OpenAPI document's name for a route, when the app has a document."""
        return self._document.canonical(route)

    # -- setup --------------------------------------------------------------------------------

    async def check(self) -> None:
        if self.profile.needs_support() and not self.client.support_token:
            assert self.profile.support is not None
            env = self.profile.support.token_env
            raise UsageError(
                f"profile '{self.profile.name}' uses a staging support API but no token was given",
                f"pass --support-token or set {env}",
            )
        if self.profile.health is not None:
            prep = replace(prepare(self.profile.health, {}), auth="none")
            obs = await self._http.send(self.client.request(None, prep, "check", retry=True))
            if not is_success(self.profile.health, obs.status):
                raise TargetUnreachable(
                    f"{self.base_url}{prep.path} answered {obs.status}",
                    "point --target at a running instance of the app the profile describes",
                )
        if self.profile.discover is not None and not self._document.discovered:
            await self._document.load()
        self._checked = True
        self._admit_routes()
        self._start_crawl()

    def _start_crawl(self) -> None:
        spec = self.profile.crawl
        if spec is None or self._looks.crawl is not None:
            return
        known = self._looks.known()
        excluded = [*spec.exclude]

        def unsafe(route: str) -> bool:
            return self.client.is_unsafe(route) or any(fnmatchcase(route, p) for p in excluded)

        self._looks.crawl = Crawl(
            origin=self.base_url,
            known=lambda path: known.route("GET", path) is not None,
            unsafe=unsafe,
            max_routes=spec.max_routes,
            max_requests=spec.max_requests,
            per_route=spec.per_route,
        )

    def add_routes(self, routes: list[str], source: str) -> None:
        """Routes found outside the profile and the document (an imported HAR: `GET /x/{id}`),
        read like discovered ones and reported with `source`. Those the profile reads or the
        document names are theirs, not new; which those are is known once the target is
        checked (its document loaded)."""
        self._pending += [(route, source) for route in routes]
        if self._checked:
            self._admit_routes()

    def _admit_routes(self) -> None:
        known = self._looks.known(extra=False)
        have = {d.route for d, _ in self._looks.extra}
        for route, source in self._pending:
            method, _, path = route.partition(" ")
            if method != "GET" or self.client.is_unsafe(route) or route in have:
                continue
            if known.route("GET", path) is not None:
                continue
            found = Discovered(route, path, tuple(re.findall(r"\{([^}/]+)\}", path)))
            self._looks.extra.append((found, source))
            self.client.coverage.found(route, source)
            have.add(route)
        self._pending.clear()

    async def seed(self, population: Population) -> World:
        world = await self._seeder.seed(population)
        self.world_changed(world)
        return world

    def world_changed(self, world: World) -> None:
        self.client.world_changed(world)
        self._looks.forget()

    # -- sessions -----------------------------------------------------------------------------

    async def login(self, actor: Actor) -> Session:
        return await self._http.login(actor)

    def anonymous(self) -> Session:
        return Session(actor=ANONYMOUS)

    # -- flows --------------------------------------------------------------------------------

    def performer(self, name: str, owner: str) -> str | None:
        """Who runs flow `name` for `owner`: the owner, or (`by: relation`) the observer
        related to them now; None when nobody is."""
        return self._flows.performer(name, owner)

    def entities_of(self, owner: str, kind: str) -> list[Entity]:
        return self._looks.entities_of(owner, kind)

    async def flow(
        self,
        session: Session,
        name: str,
        resource: Resource | None,
        step: str,
        owner: str | None = None,
    ) -> FlowResult:
        world = self.client.world
        whose = owner or (resource.owner if resource is not None else session.actor.id)
        subject = world.actors.get(whose, session.actor) if world is not None else session.actor
        return await self._flows.run(session, name, step, subject, resource)

    # -- push and notifications --------------------------------------------------------------

    async def listen(self, session: Session) -> PushListener | None:
        push = self.profile.push
        if push is None or push.websocket is None:
            return None
        url = "ws" + self.base_url.removeprefix("http") + push.websocket
        listener = PushListener(session, url, f"WS {push.websocket}")
        await listener.start()
        return listener

    # -- real calls (the profile's `media:`) -----------------------------------------------

    def caller(self, session: Session, resource: Resource | None) -> Caller | None:
        return make_caller(self.profile, self.base_url, self.client.world, session, resource)

    def media_plan(self) -> MediaPlan | None:
        return media_plan(self.profile)

    def recorded_in(self, obs: Observation) -> str | None:
        memory = self._looks.memories.get(obs.actor)
        entity = memory.seen.get(obs.entity) if memory is not None and obs.entity else None
        if entity is None:
            return None
        return recorded_in(self.profile, self.client.world, entity.item)

    async def flush_notifications(self) -> None:
        spec = self.profile.notifications
        if spec is None or spec.flush is None:
            return
        await self._seeder.step(spec.flush, self.client.scope(ANONYMOUS), "flush notifications")

    def recipients(self) -> dict[str, dict[str, str]]:
        """channel -> address -> actor: who a notification sent to an address reached."""
        spec = self.profile.notifications
        book: dict[str, dict[str, str]] = {}
        world = self.client.world
        if spec is None or world is None:
            return book
        for channel, rule in (("mail", spec.mail), ("sms", spec.sms)):
            if rule is None:
                continue
            book[channel] = {
                str(a.vars[rule.recipient]).lower(): a.id
                for a in world.actors.values()
                if rule.recipient in a.vars
            }
        return book

    # -- looking ------------------------------------------------------------------------------

    def reads_for(self, role: str) -> list[ReadSpec]:
        return self._looks.reads_for(role)

    def list_routes(self) -> set[str]:
        return self._looks.list_routes()

    async def look(
        self, session: Session, step: str, *, lists_only: bool = False
    ) -> list[Observation]:
        return await self._looks.look(session, step, lists_only)

    def unfilled_routes(self) -> list[str]:
        return sorted(self._looks.unfilled)

    def discovered(self) -> list[Discovered]:
        """The document's GET routes, then those found outside it (an imported HAR, the
        crawl): the load's workers read them from this list, never from the document."""
        return [*self._document.discovered, *(d for d, _ in self._looks.extra)]

    async def replay_as(self, session: Session, observation: Observation) -> Observation | None:
        return await replay_as(self._http, session, observation)

    def listing(self, observation: Observation) -> Listing | None:
        entities = self.client.entities
        return entities.listing(observation) if entities is not None else None

    async def aclose(self) -> None:
        await self._http.aclose()
