"""One load user, as the profile describes it, independent of the HTTP client that carries it.

    login ──► the profile's auth steps (captures, headers, cookies; again on relogin.on_status
              or when the session is older than relogin.every_seconds)
    read  ──► a load read picked by weight: its steps, its list walked to the end (`page:`),
              media in two Range requests; `each` reads over entities the user saw in its
              lists, or resources (its own, or anyone's with `pick: any`)
    journey ──► start flow, wave flows on shared wall-clock instants, finish flows, on each of
              its resources in turn; after a flow that `creates` an entity kind, its lists

Every response is judged (`LeakChecker`) and every read counted in `coverage`: a read answered
5xx, not at all, or 401 after a re-login while the session check also fails proves nothing and is
lost coverage. The Locust user class (load/locustfile.py) supplies `send`, so this module is
tested in the pytest process with a fake one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from harness.adapters import Session
from harness.adapters.discovery import Discovered, ValuePool
from harness.adapters.listing import Entity, EntityParser, next_page, page_route
from harness.adapters.profile import RANGE_CUT
from harness.coverage import Coverage
from harness.models import Actor, Finding, Observation
from harness.profile.model import HttpStep, ReadSpec
from harness.profile.steps import Prepared, capture_all, is_success, prepare
from harness.profile.template import render
from harness.world import Resource
from load.checker import LeakChecker
from load.contract import LoadSettings
from load.workload import Assignment, ReadChoice, Workload

__all__ = ["Process", "Request", "VirtualUser", "wave_delay"]

DENIALS = (403, 404)  # what a read of someone else's data should get
_FILL_LIMIT = 4


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
    coverage: Coverage = field(default_factory=Coverage)
    seen_by_anyone: dict[str, dict[str, Entity]] = field(default_factory=dict)

    @property
    def needs_values(self) -> bool:
        return any(d.params or d.query for d in self.settings.discovered)


def wave_delay(period: float, now: float | None = None) -> float:
    """Seconds to the next multiple of `period` on the wall clock: every process computes the
    same instant, so waves line up across machines whose clocks agree."""
    now = time.time() if now is None else now
    return (now // period + 1) * period - now


class VirtualUser:
    def __init__(
        self,
        process: Process,
        actor: Actor,
        send: Send,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.process = process
        self.workload = process.workload
        self.profile = process.workload.profile
        self.actor = actor
        self.session = Session(actor=actor)
        self.logged_in = False
        self._send = send
        self._rng = rng or random.Random(actor.id)
        self._sleep = sleep
        self._seen: dict[str, dict[str, Entity]] = {}
        self._pool = ValuePool()
        for name, value in actor.vars.items():
            self._pool.add(name, value, own=True)
        for resource in self.workload.world.resources_of(actor.id):
            for name, value in resource.vars.items():
                self._pool.add(name, value, own=True)
        self._reads = self.workload.reads_for(actor.role)
        # Relations do not change during a load run, so the user's own scope is built once.
        self._scope = self.workload.scope(actor)

    # -- sessions -----------------------------------------------------------------------------

    def login(self) -> bool:
        """Log in with the profile's steps; False (already counted as a failure) if refused."""
        auth = self.profile.auth
        scope = self._scope
        captures: dict[str, Any] = {}
        for step in auth.login:
            prep = replace(prepare(step, {**scope, **captures}), auth="none")
            obs = self._exchange(prep, prep.route, "login", "", _expects(step))
            if not is_success(step, obs.status):
                return False
            try:
                captures |= capture_all(step, obs.headers, obs.body)
            except KeyError:
                return False
        full = {**scope, **captures}
        self.session.captures = captures
        self.session.headers = {k: render(v, full) for k, v in auth.apply_headers.items()}
        self.session.cookies = {k: render(v, full) for k, v in auth.cookies.items()}
        self.session.obtained = time.time()
        self.session.generation += 1
        self.logged_in = True
        return True

    def _stale(self) -> bool:
        every = self.profile.auth.relogin.every_seconds
        return bool(every) and time.time() - self.session.obtained >= every

    def _alive(self) -> bool:
        """Does the session check still pass? Tells a denial from an expired session."""
        check = self.profile.auth.check
        if check is None:
            return False
        prep = prepare(check, self._scope)
        obs = self._exchange(prep, f"{prep.route} (session check)", "session-check", "", _always)
        return is_success(check, obs.status)

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        prep: Prepared,
        name: str,
        action: str,
        about: str,
        ok: Callable[[int], bool],
        extra: Mapping[str, str] | None = None,
    ) -> Observation:
        """Send as this user; an expired session is logged in again and the request repeated."""
        as_user = prep.auth == "session"
        if as_user and self._stale():
            self.login()
        expired = self.profile.auth.relogin.on_status
        first_ok = (lambda s: ok(s) or s in expired) if as_user else ok
        obs = self._exchange(prep, name, action, about, first_ok, extra)
        if as_user and obs.status in expired and self.login():
            obs = self._exchange(prep, name, action, about, ok, extra)
        return obs

    def _exchange(
        self,
        prep: Prepared,
        name: str,
        action: str,
        about: str,
        ok: Callable[[int], bool],
        extra: Mapping[str, str] | None = None,
    ) -> Observation:
        headers = dict(prep.headers)
        if prep.auth == "session":
            headers.update(self.session.credentials())
        if prep.json_body is not None:
            headers.setdefault("Content-Type", "application/json")
        elif prep.form is not None:
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        headers.update(extra or {})
        step = f"load/{self.actor.id}/{action}"
        # The client reports it under prep.route, where findings and coverage name it.
        obs = self._send(Request(prep, name, headers, self.actor.id, step, about, ok))
        checker = self.process.checker
        if checker is not None and obs.status:
            found = checker.check(obs)
            if found:
                self.process.report(found)
        return obs

    def _count(self, obs: Observation, route: str, about: str) -> None:
        owner = about or self.actor.id
        coverage = self.process.coverage
        if obs.status == 0:
            coverage.lost(route, self.actor.id, owner, "no answer")
        elif obs.status >= 500:
            coverage.lost(route, self.actor.id, owner, f"HTTP {obs.status}")
        elif obs.status in self.profile.auth.relogin.on_status and not self._alive():
            coverage.lost(route, self.actor.id, owner, f"HTTP {obs.status} after re-login")
        else:
            coverage.checked(route, self.actor.id, owner)

    def _learn(self, obs: Observation) -> None:
        """Remember the entities the user saw (for `each` reads) and values (for discovery)."""
        if obs.status != 200:
            return
        if self.process.needs_values and "json" in obs.content_type:
            self._pool.harvest(obs.body)
        for entity in self.process.entities.entities(obs) or ():
            key = f"{entity.kind}:{entity.id}"
            self._seen.setdefault(entity.kind, {}).setdefault(key, entity)
            self.process.seen_by_anyone.setdefault(entity.kind, {}).setdefault(key, entity)
            self._pool.add_entity(entity.kind, entity.id, own=entity.owner == self.actor.id)

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
        ok = _denial_ok if choice.pick == "any" else None
        return self._read_steps(spec, scope, about, ok)

    def _pick(self, kind: str, pick: str) -> tuple[Mapping[str, Any], str] | None:
        if kind in self.profile.entities:
            pool = self.process.seen_by_anyone if pick == "any" else self._seen
            entities = list(pool.get(kind, {}).values())
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
        spec = self._rng.choice(lists)
        return self._read_steps(spec, self._scope, "", None)

    def read_lists(self, kind: str) -> list[Observation]:
        """Every list of `kind` this user may read: where a misfiled item shows up."""
        seen: list[Observation] = []
        for spec in self.workload.list_reads(self.actor.role, kind):
            seen += self._read_steps(spec, self._scope, "", None)
        return seen

    def _read_steps(
        self,
        read: ReadSpec,
        scope: Mapping[str, Any],
        about: str,
        also_ok: Callable[[int], bool] | None,
    ) -> list[Observation]:
        """One read: its steps in order (later ones use earlier captures), the last one's list
        walked to its end."""
        seen: list[Observation] = []
        captures: dict[str, Any] = {}
        for index, step in enumerate(read.steps):
            prep = prepare(step, {**scope, **captures})
            ok = _expects(step) if also_ok is None else _either(_expects(step), also_ok)
            if step.range == "halves":
                got = self._halves(prep, about, ok)
            elif index == len(read.steps) - 1 and read.page is not None:
                got = self._pages(prep, read, about, ok)
            else:
                got = [self._checked(prep, prep.route, about, ok)]
            seen += got
            if not got or not is_success(step, got[-1].status):
                break  # later steps need this one's captures
            try:
                captures |= capture_all(step, got[-1].headers, got[-1].body)
            except KeyError:
                break
        return seen

    def _checked(
        self,
        prep: Prepared,
        name: str,
        about: str,
        ok: Callable[[int], bool],
        extra: Mapping[str, str] | None = None,
    ) -> Observation:
        obs = self.request(prep, name, prep.route, about, ok, extra)
        self._count(obs, prep.route, about)
        self._learn(obs)
        return obs

    def _pages(
        self, prep: Prepared, read: ReadSpec, about: str, ok: Callable[[int], bool]
    ) -> list[Observation]:
        assert read.page is not None
        seen: list[Observation] = []
        visited: set[str] = set()
        current = prep
        for page in range(1, read.page.max_pages + 1):
            # A later page reports under its page route ("... (page 2)"), as in the harness:
            # a list's count is only judged on a first page with nothing after it.
            paged = replace(current, route=page_route(prep.route, page))
            obs = self._checked(paged, paged.route, about, ok)
            seen.append(obs)
            visited.add(current.path)
            if obs.status != 200:
                return seen
            entities = self.process.entities.entities(obs)
            following = next_page(
                obs, read.page, len(entities) if entities is not None else None, page
            )
            if following is None or following in visited:
                return seen
            current = replace(prep, path=following)
        self.process.coverage.lost(
            prep.route,
            self.actor.id,
            about or self.actor.id,
            f"page bound reached ({read.page.max_pages} pages)",
        )
        return seen

    def _halves(self, prep: Prepared, about: str, ok: Callable[[int], bool]) -> list[Observation]:
        """A body in two Range requests, as a player fetches media: the first one is the
        route's row in the statistics (time to the first bytes), the rest its own row."""
        first = self._checked(prep, prep.route, about, ok, {"Range": f"bytes=0-{RANGE_CUT - 1}"})
        total = _total_size(first)
        if first.status != 206 or total is None or total <= RANGE_CUT:
            return [first]
        rest = self._checked(
            prep, f"{prep.route} (rest)", about, ok, {"Range": f"bytes={RANGE_CUT}-{total - 1}"}
        )
        return [first, rest]

    def _read_discovered(self, choice: ReadChoice) -> list[Observation]:
        found = choice.discovered
        assert found is not None
        route = Discovered(found.route, found.path, found.params, found.query)
        paths = (
            self._pool.fillings(route, _FILL_LIMIT) if route.params or route.query else [route.path]
        )
        if not paths:
            return []  # nothing observed yet fills its parameters
        prep = Prepared("GET", self._rng.choice(paths), found.route)
        return [self._checked(prep, found.route, "", _either(_success, _denial_ok))]

    # -- journeys -----------------------------------------------------------------------------

    def flow(self, name: str, resource: Resource | None) -> bool:
        """Run one profile flow; True if every step answered as expected. After a flow that
        files an entity (a recording), the user reads where such entities are listed."""
        spec = self.profile.flows[name]
        scope = self.workload.scope(self.actor, resource)
        captures: dict[str, Any] = {}
        done = True
        for step in spec.steps:
            prep = prepare(step, {**scope, **captures})
            conflict = frozenset(spec.conflict)
            ok = _either(_expects(step), conflict.__contains__)
            obs = self.request(prep, prep.route, name, "", ok)
            if not is_success(step, obs.status):
                done = False
                break
            try:
                captures |= capture_all(step, obs.headers, obs.body)
            except KeyError:
                done = False
                break
        if done and spec.creates is not None:
            self.read_lists(spec.creates)
        return done

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


def _success(status: int) -> bool:
    return 200 <= status < 400


def _denial_ok(status: int) -> bool:
    return status in DENIALS


def _always(status: int) -> bool:
    return True


def _expects(step: HttpStep) -> Callable[[int], bool]:
    if step.expect:
        return frozenset(step.expect).__contains__
    return _success


def _either(first: Callable[[int], bool], second: Callable[[int], bool]) -> Callable[[int], bool]:
    return lambda status: first(status) or second(status)


def _total_size(obs: Observation) -> int | None:
    value = obs.header("content-range") or ""
    _, _, total = value.rpartition("/")
    return int(total) if total.isdigit() else None
