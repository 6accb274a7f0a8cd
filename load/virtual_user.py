"""One load user, as the profile describes it, independent of the HTTP client that carries it.

    login ──► the profile's auth steps (captures, headers, cookies; again on relogin.on_status
              or when the session is older than relogin.every_seconds)
    read  ──► a load read picked by weight: its steps, its list walked to the end (`page:`),
              media in two Range requests; `each` reads over entities the user saw in its
              lists, or resources (its own, or anyone's with `pick: any`)
    journey ──► start flow, wave flows on shared wall-clock instants, finish flows, on each of
              its resources in turn; after a flow that `creates` an entity kind, its lists

What to send and what each answer proves (coverage: a read answered 5xx, not at all, or 401
after a re-login while the session check also fails is lost) is the profile client's
(`harness.client`), as in the harness. This module only sends, judges every response
(`LeakChecker`) and keeps what the user saw. The Locust user class (load/locustfile.py) supplies
`send`, so this module is tested in the pytest process with a fake one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from harness.client import Flow, Memory, ProfileClient, Session, read, run_flow, run_sync
from harness.client import Send as ClientSend
from harness.client.discovery import Discovered
from harness.client.listing import Entity, EntityParser
from harness.client.protocol import SUCCESS
from harness.client.reads import Reader
from harness.coverage import Coverage
from harness.errors import InfrastructureError
from harness.models import Actor, Finding, Observation
from harness.profile.model import ReadSpec
from harness.profile.steps import Prepared
from harness.world import Resource
from load.calls import CallDriver
from load.checker import LeakChecker
from load.contract import LoadSettings
from load.workload import Assignment, ReadChoice, Workload

__all__ = ["Process", "Request", "VirtualUser", "wave_delay"]

DENIALS = frozenset({403, 404})  # what a read of someone else's data should get
_FILL_LIMIT = 4
_READ = "read"  # the client's action for reads: their step is named by the route read
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Request:
    """One request for the client to send, and which statuses count as success in the stats."""

    prepared: Prepared
    name: str  # the statistics row (a route, or a route with a page suffix)
    headers: dict[str, str]
    actor: str
    step: str
    about: str
    ok: Callable[[int], bool]


# Sends a request and returns what came back, as an Observation of `request.actor` whose
# endpoint is `request.prepared.route` (status 0 when nothing came back).
Send = Callable[[Request], Observation]


@dataclass
class Process:
    """What every user of one Locust process shares."""

    workload: Workload
    settings: LoadSettings
    entities: EntityParser
    checker: LeakChecker | None
    report: Callable[[list[Finding]], None]  # new findings go here (a file, or the master)
    seen_by_anyone: dict[str, dict[str, Entity]] = field(default_factory=dict)
    client: ProfileClient = field(init=False)
    # With real calls: the profile's read of a recording's media (`media.fetch`), which a
    # journey user makes on each recording its lists show after a segment closes.
    fetch: ReadSpec | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # One client per process: the profile's protocol. Load workers never get the support
        # token.
        self.client = ProfileClient(self.workload.profile, world=self.workload.world)
        # Load measures the reads users make; their other request shapes are the access
        # suite's, and would add statistics rows no SLO names.
        self.client.variant_reads = 0
        media = self.workload.profile.media
        if self.settings.media and media is not None and media.fetch:
            wanted = media.fetch
            self.fetch = next((r for r in self.workload.profile.reads if r.name == wanted), None)
        if self.checker is not None:
            self.checker.set_coverage(self.client.coverage)

    @property
    def coverage(self) -> Coverage:
        """What the users' reads proved: the client's tally, which a worker swaps for a fresh
        one each time it sends what it counted to the master."""
        return self.client.coverage

    @coverage.setter
    def coverage(self, tally: Coverage) -> None:
        self.client.coverage = tally
        if self.checker is not None:
            self.checker.set_coverage(tally)  # what the oracles could not judge counts here too

    @property
    def needs_values(self) -> bool:
        return any(d.params or d.query for d in self.settings.discovered)


def wave_delay(period: float, now: float | None = None) -> float:
    """Seconds to the next multiple of `period` on the wall clock: every process computes the
    same instant, so waves line up across machines whose clocks agree."""
    now = time.time() if now is None else now
    return (now // period + 1) * period - now


class VirtualUser:
    """A blocking driver of the profile client (`harness.client`): it only sends, through
    `send`, and keeps what this user saw."""

    def __init__(
        self,
        process: Process,
        actor: Actor,
        send: Send,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        calls: CallDriver | None = None,
    ) -> None:
        self.process = process
        self.workload = process.workload
        self.profile = process.workload.profile
        self.client = process.client
        self.actor = actor
        self.session = Session(actor=actor)
        self.logged_in = False
        self._send = send
        self._rng = rng or random.Random(actor.id)
        self._sleep = sleep
        self.calls = calls  # this user's real call, with `--media real`
        self._fetched: set[str] = set()  # recordings whose media this user read
        self.memory = Memory(actor, self.workload.world, harvest=process.needs_values)
        self._reads = self.workload.reads_for(actor.role)
        # Relations do not change during a load run, so the user's own scope is built once.
        self._scope = self.client.scope(actor)

    # -- the driver ---------------------------------------------------------------------------

    def login(self) -> bool:
        """Log in with the profile's steps; False (already counted as a failure) if refused."""
        try:
            self._run(self.client.login(self.session))
        except InfrastructureError:
            return False
        self.logged_in = True
        return True

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._transmit, lambda relogin: self.login())

    def _transmit(self, send: ClientSend) -> Observation:
        prep = replace(send.prepared, route=send.route)
        headers = dict(send.headers)
        if prep.json_body is not None:
            headers.setdefault("Content-Type", "application/json")
        elif prep.form is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        # A read's step is named by its route (a page's by its page route), others by action.
        action = send.route if send.action == _READ else send.action
        step = f"load/{self.actor.id}/{action}"
        request = Request(prep, send.row, headers, self.actor.id, step, send.about, send.succeeded)
        obs = self._send(request)
        checker = self.process.checker
        if checker is not None and obs.status:
            found = checker.check(obs)
            if found:
                self.process.report(found)
        return obs

    def _learn(self, observations: list[Observation]) -> None:
        for obs in observations:
            for entity in self.memory.learn(obs, self.process.entities):
                key = f"{entity.kind}:{entity.id}"
                self.process.seen_by_anyone.setdefault(entity.kind, {}).setdefault(key, entity)

    # -- reads --------------------------------------------------------------------------------

    def read_something(self) -> list[Observation]:
        """One load read, picked by weight among those this user's role may make."""
        if not self._reads:
            return []
        [choice] = self._rng.choices(self._reads, weights=[c.weight for c in self._reads])
        return self.read(choice)

    def read(self, choice: ReadChoice) -> list[Observation]:
        if choice.discovered is not None:
            return self._read_discovered(choice)
        spec = choice.spec
        assert spec is not None
        scope = self._scope
        about = ""
        if spec.each is not None:
            picked = self._pick(spec.each, choice.pick)
            if picked is None:
                return self._read_lists(spec.each)  # nothing seen yet: look at the lists first
            item, about = picked
            scope = {**scope, spec.each: item}
        also = DENIALS if choice.pick == "any" else frozenset()
        return self._read(spec, scope, about, also)

    def _read(
        self,
        spec: ReadSpec,
        scope: Mapping[str, Any],
        about: str = "",
        also_ok: frozenset[int] = frozenset(),
    ) -> list[Observation]:
        seen = self._run(read(self.client, self.session, spec, scope, _READ, about, also_ok))
        self._learn(seen)
        return seen

    def _pick(self, kind: str, pick: str) -> tuple[Mapping[str, Any], str] | None:
        if kind in self.profile.entities:
            seen = self.process.seen_by_anyone.get(kind, {}) if pick == "any" else None
            entities = list((seen if seen is not None else self.memory.of_kind(kind)).values())
            if not entities:
                return None
            entity = self._rng.choice(entities)
            return entity.item, entity.owner or ""
        world = self.workload.world
        resources = [
            r
            for r in world.resources
            if r.kind == kind and (pick == "any" or world.ownership.may_see(self.actor.id, r.owner))
        ]
        if not resources:
            return None
        resource = self._rng.choice(resources)
        return resource.vars, resource.owner

    def _read_lists(self, kind: str) -> list[Observation]:
        lists = self.workload.list_reads(self.actor.role, kind)
        if not lists:
            return []
        return self._read(self._rng.choice(lists), self._scope)

    def read_lists(self, kind: str) -> list[Observation]:
        """Every list of `kind` this user may read: where a misfiled item shows up."""
        seen: list[Observation] = []
        for spec in self.workload.list_reads(self.actor.role, kind):
            seen += self._read(spec, self._scope)
        return seen

    def _read_discovered(self, choice: ReadChoice) -> list[Observation]:
        found = choice.discovered
        assert found is not None
        route = Discovered(found.route, found.path, found.params, found.query)
        paths = (
            self.memory.pool.fillings(route, _FILL_LIMIT)
            if route.params or route.query
            else [route.path]
        )
        if not paths:
            return []  # nothing observed yet fills its parameters
        prep = Prepared("GET", self._rng.choice(paths), found.route)
        ok = SUCCESS | DENIALS
        reader = Reader(self.client, self.session, _READ, None, "", ok)
        obs = self._run(reader.checked(prep))
        self._learn([obs])
        return [obs]

    # -- journeys -----------------------------------------------------------------------------

    def flow(self, name: str, resource: Resource | None) -> bool:
        """Run one profile flow; True if every step answered as expected. After a flow that
        files an entity (a recording), the user reads where such entities are listed, and with
        real calls, the media of each one listed that it has not read yet. The user's caller
        (if any) follows the flow: camera and hold before it, start, camera off, hang up after."""
        if self.calls is not None:
            self.calls.before(name, resource)
        scope = self.client.scope(self.actor, resource)
        done = self._run(run_flow(self.client, self.session, name, scope, name)).ok
        if self.calls is not None:
            self.calls.after(name, resource, done)
        creates = self.profile.flows[name].creates
        if done and creates is not None:
            listed = self.read_lists(creates)
            self._fetch_media(self._learn_listed(listed, creates))
        return done

    def _learn_listed(self, seen: list[Observation], kind: str) -> list[Entity]:
        listed = [e for obs in seen for e in self.process.entities.entities(obs) or []]
        return [e for e in listed if e.kind == kind]

    def _fetch_media(self, entities: list[Entity]) -> None:
        """Each recording's media, read once by this user: the media oracle decodes it."""
        spec = self.process.fetch
        if spec is None or spec.each is None:
            return
        for entity in entities:
            key = f"{entity.kind}:{entity.id}"
            if entity.kind != spec.each or key in self._fetched:
                continue
            self._fetched.add(key)
            self._read(spec, {**self._scope, spec.each: entity.item}, entity.owner or "")

    def journey(self, assignment: Assignment) -> Iterator[str]:
        """The journey on each assigned resource in turn; yields after every flow (its name),
        so the caller can stop between steps."""
        journey = assignment.journey
        wave = self.process.settings.wave_seconds
        for resource in assignment.resources:
            if not self.flow(journey.start, resource):
                yield journey.start
                continue  # this resource cannot be driven (ended, refused): the next one
            yield journey.start
            for round_ in range(journey.rounds if journey.waves else 0):
                name = journey.waves[round_ % len(journey.waves)]
                self._sleep(wave_delay(wave))
                self.flow(name, resource)
                yield name
            for name in journey.finish:
                self.flow(name, resource)
                yield name
