"""The profile client: sessions (login, re-login on status or age, the session check),
requests as a user, and what each read proved (coverage). No I/O: see harness.client.protocol.
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from harness.client.listing import EntityParser
from harness.client.protocol import SUCCESS, Flow, Relogin, Send
from harness.client.scope import scope_for, support_headers
from harness.client.session import Session
from harness.client.variants import LIMIT
from harness.coverage import Coverage
from harness.errors import InfrastructureError
from harness.models import ANONYMOUS, Actor, Observation
from harness.profile.model import HttpStep, TargetProfile
from harness.profile.steps import Prepared, capture_all, is_success, prepare
from harness.profile.template import render, route_of
from harness.world import Resource, World

_SEEN_VALUES = 8

__all__ = ["LoginRefused", "ProfileClient", "expects", "unsafe_patterns"]


class LoginRefused(InfrastructureError):
    """The profile's login steps did not log the user in."""


def expects(step: HttpStep) -> frozenset[int]:
    """The statuses a step counts as success."""
    return frozenset(step.expect) if step.expect else SUCCESS


def unsafe_patterns(profile: TargetProfile) -> list[str]:
    """Routes never repeated on someone else's behalf: the profile's `unsafe`, and its resets."""
    return [*profile.unsafe, *(route_of(s.method, s.path) for s in profile.reset)]


class ProfileClient:
    """One app's protocol, as its profile describes it, for any number of users."""

    def __init__(
        self,
        profile: TargetProfile,
        support_token: str = "",
        world: World | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.profile = profile
        self.support_token = support_token
        self.clock = clock
        self.coverage = Coverage()
        self.world: World | None = None
        self.entities: EntityParser | None = None
        # A path that came from a capture may be named by a route table (the OpenAPI
        # document's names): the harness sets this, the load keeps the profile's names.
        self.name_route: Callable[[Prepared], Prepared] = _same
        self._unsafe = unsafe_patterns(profile)
        self._alive: dict[tuple[str, int], bool] = {}
        # Request shapes (harness.client.reads.shapes): how many owner reads of each route get
        # their variants in a run (at most `variant_limit` each), and the content types each
        # route offers (OpenAPI's, set by the harness; unknown: the common ones).
        self.variant_reads = 1
        self.variant_limit = LIMIT
        self.variants_sent: Counter[str] = Counter()
        self.offers: dict[str, tuple[str, ...]] = {}
        self._queries: dict[str, dict[str, set[str]]] = {}
        if world is not None:
            self.world_changed(world)

    def world_changed(self, world: World) -> None:
        self.world = world
        self.entities = EntityParser(self.profile, world)
        self._alive.clear()

    def offered(self, route: str) -> tuple[str, ...]:
        return self.offers.get(route, ())

    def saw_query(self, prep: Prepared) -> None:
        """Keep the query values sent to a GET route (a few per parameter): a variant tries one
        user's read with the values other reads of the route sent."""
        if prep.method != "GET" or "?" not in prep.path:
            return
        params = self._queries.setdefault(prep.route, {})
        for name, value in parse_qsl(prep.path.split("?", 1)[1], keep_blank_values=True):
            values = params.setdefault(name, set())
            if len(values) < _SEEN_VALUES:
                values.add(value)

    def queries_seen(self, route: str) -> dict[str, set[str]]:
        return self._queries.get(route, {})

    def is_unsafe(self, route: str) -> bool:
        return any(fnmatch.fnmatchcase(route, pattern) for pattern in self._unsafe)

    def scope(self, actor: Actor, resource: Resource | None = None) -> dict[str, Any]:
        return scope_for(self.profile, self.world, actor, resource, self.support_token)

    # -- requests -----------------------------------------------------------------------------

    def request(
        self,
        session: Session | None,
        prep: Prepared,
        action: str,
        *,
        actor: Actor | None = None,
        route: str | None = None,
        name: str = "",
        about: str = "",
        ok: frozenset[int] | None = None,
        extra: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> Send:
        """`prep` with the credentials its `auth` asks for: the session's, the support API's,
        or none."""
        headers = dict(prep.headers)
        if prep.auth == "support":
            headers.update(support_headers(self.profile, self.support_token))
        elif prep.auth == "session" and session is not None:
            headers.update(session.credentials())
        headers.update(extra or {})
        who = actor or (session.actor if session is not None else ANONYMOUS)
        return Send(prep, headers, who.id, action, route or prep.route, name, about, ok, retry)

    def send(
        self,
        session: Session | None,
        prep: Prepared,
        action: str,
        *,
        ok: frozenset[int] | None = None,
        **fields: Any,
    ) -> Flow[Observation]:
        """Send as `session` (`fields` as for `request`). A session older than
        `relogin.every_seconds` logs in first; an answer in `relogin.on_status` logs in again
        and repeats the request once."""
        as_user = prep.auth == "session" and session is not None and session.authenticated
        expired = frozenset(self.profile.auth.relogin.on_status)
        if as_user:
            assert session is not None
            if self.stale(session):
                yield Relogin(session, session.generation)
        # The first answer may be an expiry: the statistics count the repeat, not it.
        first_ok = ok | expired if as_user and ok is not None else ok
        obs: Observation = yield self.request(session, prep, action, ok=first_ok, **fields)
        if as_user and obs.status in expired:
            assert session is not None
            if (yield Relogin(session, session.generation)):
                obs = yield self.request(session, prep, action, ok=ok, **fields)
        return obs

    # -- sessions -----------------------------------------------------------------------------

    def stale(self, session: Session) -> bool:
        every = self.profile.auth.relogin.every_seconds
        return bool(every) and self.clock() - session.obtained > every

    def login(self, session: Session) -> Flow[None]:
        """Run the profile's login steps for `session.actor` and put the credentials they
        capture into `session`. Raises LoginRefused when a step fails or captures nothing."""
        auth = self.profile.auth
        actor = session.actor
        scope = self.scope(actor)
        captures: dict[str, Any] = {}
        for step in auth.login:
            prep = replace(prepare(step, {**scope, **captures}), auth="none")
            obs: Observation = yield self.request(
                None, prep, "login", actor=actor, ok=expects(step), retry=False
            )
            if not is_success(step, obs.status):
                raise LoginRefused(
                    f"could not log in as {actor.id}: {prep.method} "
                    f"{prep.path.split('?', 1)[0]} answered {obs.status}: {detail(obs)}",
                    "check the profile's auth.login steps and that the user was created",
                )
            try:
                captures |= capture_all(step, obs.headers, obs.body)
            except KeyError as exc:
                raise LoginRefused(
                    f"logging in as {actor.id} gave no {exc.args[0]}",
                    "fix auth.login's capture in the profile",
                ) from None
        full = {**scope, **captures}
        session.captures = captures
        session.headers = {k: render(v, full) for k, v in auth.apply_headers.items()}
        session.cookies = {k: render(v, full) for k, v in auth.cookies.items()}
        session.obtained = self.clock()
        session.generation += 1

    def alive(self, session: Session) -> Flow[bool]:
        """Does the session check pass? Tells a denial (from a live session) from an expiry.
        Asked once per login of each user."""
        check = self.profile.auth.check
        if check is None:
            return False
        key = (session.actor.id, session.generation)
        if key not in self._alive:
            prep = prepare(check, self.scope(session.actor))
            name = f"{prep.route} (session check)"
            obs: Observation = yield self.request(session, prep, "session-check", name=name)
            self._alive[key] = is_success(check, obs.status)
        return self._alive[key]

    def judge(self, session: Session, obs: Observation, route: str, about: str) -> Flow[None]:
        """Record what a read proved: checked, or lost with its reason. A denial (403, 404, or
        an expiry status while the session is provably alive) is a check that passed."""
        observer = session.actor.id
        owner = about or observer
        if obs.status == 0:
            self.coverage.lost(route, observer, owner, "no answer")
        elif obs.status >= 500:
            self.coverage.lost(route, observer, owner, f"HTTP {obs.status}")
        elif (
            obs.status in self.profile.auth.relogin.on_status
            and session.authenticated
            and not (yield from self.alive(session))
        ):
            self.coverage.lost(route, observer, owner, f"HTTP {obs.status} after re-login")
        else:
            self.coverage.checked(route, observer, owner)


def detail(obs: Observation) -> str:
    return obs.body[:160].decode("utf-8", "replace").replace("\n", " ")


def _same(prep: Prepared) -> Prepared:
    return prep
