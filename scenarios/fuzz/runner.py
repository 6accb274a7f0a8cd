"""Schemathesis, driven as a library: its engine runs phases over the planned document, each
case is sent as the next actor of a Rotation, and every response it receives is handed over.

    Plan ──► SchemathesisConfig (seed, examples, phases, checks, no caches) ──► schema
    schema.auth  ◄── Rotation: the next actor's credentials from the shared Sessions
                     (anonymous takes its turn too)
    schema hook after_call ──► Sent queue ──► the suite judges them between engine events
                     └─ examples pass: the case again as each fan-out actor (Case.derive,
                        Case.call, Case.validate_response), its failures in its Sent
    deadline / ctx.cancel ──► EventStream.stop(): the engine finishes what it is doing

Schemathesis runs its cases in worker threads, so what crosses over is a thread-safe queue;
judging stays in the suite's thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.engine import from_schema
from schemathesis.engine.events import EngineEvent

from harness.adapters import Session
from harness.cancel import CancelScope
from harness.config import RunOptions
from harness.models import Actor
from scenarios.fuzz.bodies import OwnBodies
from scenarios.fuzz.document import Plan
from scenarios.fuzz.traffic import REDACTED, Credentials

__all__ = ["CONTRACT_CHECKS", "Plain", "Rotation", "Runner", "Sent", "Sessions"]

# Schemathesis's own checks the suite runs: server errors and conformance to the document.
# Checks that assume one identity per run (ignored_auth, object_level_authorization,
# use_after_free, ensure_resource_availability) are left out: the actor changes every case,
# and whose data each response holds is the Judge's question, not theirs.
CONTRACT_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)


_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})  # methods that store nothing
_TIMEOUT = 30  # seconds, as `request-timeout` below
_AT_ONCE = 4  # reads of one example sent again at once, as different actors


@dataclass(frozen=True, slots=True)
class Sent:
    """One exchange Schemathesis made, as its worker thread saw it. A case sent again as
    another actor (Rotation.fan_out) carries its own contract failures: Schemathesis's engine
    checked only the first sending."""

    case: Any  # schemathesis.Case
    response: Any  # schemathesis.Response
    at: float
    failures: tuple[Any, ...] = ()  # schemathesis Failure, for a case sent again


class Sessions:
    """Everyone's logged-in session, shared by every pass; one that expired (or got too old
    for the profile's `relogin.every_seconds`) is logged in again before it is used."""

    def __init__(
        self,
        login: Callable[[Actor], Session],
        credentials: Credentials,
        every_seconds: float = 0.0,
    ) -> None:
        self._login = login
        self._credentials = credentials
        self._every = every_seconds
        self._sessions: dict[str, Session] = {}
        self._stale: set[str] = set()
        self._lock = threading.Lock()
        self.relogins = 0

    def start(self, actors: Sequence[Actor]) -> None:
        for actor in actors:
            if not actor.is_anonymous:
                self._fresh(actor)

    def _fresh(self, actor: Actor) -> Session:
        session = self._login(actor)
        self._credentials.learn(session)
        self._sessions[actor.id] = session
        self._stale.discard(actor.id)
        return session

    def of(self, actor: Actor) -> Session | None:
        """The actor's live session; None for anonymous."""
        if actor.is_anonymous:
            return None
        with self._lock:
            session = self._sessions.get(actor.id)
            if session is None:
                return self._fresh(actor)
            old = 0 < self._every < time.time() - session.obtained
            if old or actor.id in self._stale:
                self.relogins += 1
                session = self._fresh(actor)
            return session

    def expired(self, actor: str) -> None:
        """The target refused this actor's credentials: log in again before its next turn."""
        with self._lock:
            if actor in self._sessions:
                self._stale.add(actor)


@dataclass(frozen=True, slots=True)
class Plain:
    """A drawn case's request before any actor's credentials or canaries went into it."""

    headers: Any
    cookies: dict[str, Any]
    body: Any


class Rotation:
    """Every case goes out as the next of these actors (one actor: always that one), and
    then again as each of `fan_out`, the same request under their credentials."""

    def __init__(
        self,
        actors: Sequence[Actor],
        sessions: Sessions,
        bodies: OwnBodies | None = None,
        fan_out: Sequence[Actor] = (),
    ) -> None:
        self.actors = tuple(actors)
        self.sessions = sessions
        self.bodies = bodies
        self.fan_out = tuple(fan_out)
        self.plain: dict[str, Plain] = {}  # by case id, while the case is in flight
        self._turns = itertools.cycle(self.actors)
        self._lock = threading.Lock()

    def next(self) -> Session | None:
        with self._lock:
            actor = next(self._turns)
        return self.sessions.of(actor)

    def dress(self, case: Any, session: Session | None, sender: str) -> None:
        """Put `session`'s credentials (none: anonymous) on `case`, and a write body that
        holds no canary but the sender's."""
        if session is not None:
            case.headers = {**(case.headers or {}), **session.headers}
            if session.cookies:
                case.cookies = {**(case.cookies or {}), **session.cookies}
        if self.bodies is not None and str(case.method).upper() not in _SAFE:
            case.body = self.bodies.rewrite(case.body, sender)


def _provider(rotation: Rotation) -> type:
    class ChaperoneActors:
        """Schemathesis auth provider: the credentials of whoever's turn it is."""

        def get(self, case: Any, context: Any) -> Session | None:
            return rotation.next()

        def set(self, case: Any, data: Session, context: Any) -> None:
            if rotation.fan_out:  # kept bare, to be sent again as each of them
                rotation.plain[case.id] = Plain(
                    dict(case.headers or {}), dict(case.cookies or {}), case.body
                )
            # the case is drawn and now has its sender: what it writes must be theirs
            rotation.dress(case, data, data.actor.id)

    return ChaperoneActors


def config_for(
    plan: Plan, options: RunOptions, base_url: str, phases: Sequence[str] | None = None
) -> SchemathesisConfig:
    """Schemathesis's configuration for one pass (`phases`, by default the run's)."""
    chosen = set(options.fuzz_phases if phases is None else phases)
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url.rstrip("/") + plan.base_path,
            "seed": options.seed,
            "workers": 1,
            "continue-on-failure": True,  # a contract failure must not end an operation's traffic
            "max-redirects": 0,  # a redirect is judged as received, not followed
            "request-timeout": _TIMEOUT,
            "cache": {"enabled": False},  # nothing written to disk, nothing carried between runs
            "output": {"sanitization": {"replacement": REDACTED}},
            "auth": {"auto-signup": False},
            "generation": {
                "max-examples": options.fuzz_examples,
                "database": "none",
                "no-shrink": True,  # the budget goes to more traffic, not to shrinking
            },
            "phases": {
                "examples": {"enabled": "examples" in chosen, "fill-missing": True},
                "coverage": {
                    "enabled": "coverage" in chosen,
                    "unexpected-methods": list(plan.probes),
                },
                "fuzzing": {"enabled": "fuzzing" in chosen},
                "stateful": {"enabled": "stateful" in chosen},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CONTRACT_CHECKS}},
        }
    )


class Runner:
    def __init__(
        self,
        plan: Plan,
        options: RunOptions,
        base_url: str,
        rotation: Rotation,
        phases: Sequence[str] | None = None,
    ) -> None:
        self.sent: queue.SimpleQueue[Sent] = queue.SimpleQueue()
        self.stopped = ""  # why the engine was stopped early ("" when it completed)
        self.rotation = rotation
        self._deadline = float("inf")
        self._cancel: CancelScope | None = None
        self._again: set[str] = set()  # ids of the cases sent again as another actor
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(_AT_ONCE, thread_name_prefix="chaperone-fuzz-again")
        config = config_for(plan, options, base_url, phases)
        self.schema = schemathesis.openapi.from_dict(plan.document, config=config)
        self.schema.auth.auth(refresh_interval=None)(_provider(rotation))
        self.schema.hooks.register_hook_with_name(self._after_call, "after_call")

    def _after_call(self, context: Any, case: Any, response: Any) -> None:
        if case.id in self._again:
            return  # put on the queue by _send_again, with its own checks
        self.sent.put(Sent(case, response, time.time()))
        plain = self.rotation.plain.pop(case.id, None)
        if plain is not None:
            self._send_again(case, plain)

    def _send_again(self, case: Any, plain: Plain) -> None:
        """The case as each fan-out actor, right after its first sending: the examples phase
        draws a case once (most of its cost is Hypothesis's), and every actor sends it.
        Runs in Schemathesis's worker thread, so the time limit is checked before each send.
        A read changes nothing, so its sendings go out several at once (the target works on
        one while the harness judges another); a write's go out one by one, in actor order,
        as each may change what the next one meets. Either way they are queued for judging
        in actor order."""
        actors = self.rotation.fan_out
        if str(case.method).upper() not in _SAFE:
            for actor in actors:
                self._queue(self._as(actor, case, plain))
            return
        for sent in self._pool.map(lambda actor: self._as(actor, case, plain), actors):
            self._queue(sent)

    def _as(self, actor: Actor, case: Any, plain: Plain) -> Sent | None:
        """`case` sent as `actor`, checked against the document; None past the time limit."""
        if self._over():
            return None
        again = case.derive(headers=plain.headers.copy(), cookies=dict(plain.cookies))
        again.body = plain.body
        self.rotation.dress(again, self.rotation.sessions.of(actor), actor.id)
        self._again.add(again.id)  # before the call, whose after_call hook asks
        response = again.call(session=self._http(), timeout=_TIMEOUT, allow_redirects=False)
        try:
            again.validate_response(response)
            failures: tuple[Any, ...] = ()
        except FailureGroup as group:
            failures = tuple(group.exceptions)
        return Sent(again, response, time.time(), failures)

    def _queue(self, sent: Sent | None) -> None:
        if sent is not None:
            self.sent.put(sent)

    def _http(self) -> requests.Session:
        """This thread's connection pool (a requests Session is not shared between threads)."""
        session: requests.Session | None = getattr(self._local, "http", None)
        if session is None:
            session = self._local.http = requests.Session()
            session.max_redirects = 0
        return session

    def _over(self) -> bool:
        cancel = self._cancel
        return (cancel is not None and cancel.is_set()) or time.time() >= self._deadline

    def events(self, deadline: float, cancel: CancelScope) -> Iterator[EngineEvent]:
        """The engine's events; it is stopped at `deadline` or when `cancel` is cancelled."""
        self._deadline, self._cancel = deadline, cancel
        stream = from_schema(self.schema).execute()
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.2):
                if self._over():
                    self.stopped = "cancelled" if cancel.is_set() else "time limit"
                    stream.stop()
                    return

        watcher = threading.Thread(target=watch, name="chaperone-fuzz-deadline", daemon=True)
        watcher.start()
        try:
            yield from stream
        finally:
            done.set()
            stream.stop()
            watcher.join(timeout=5)
            self._pool.shutdown(wait=True, cancel_futures=True)

    def drain(self) -> list[Sent]:
        items: list[Sent] = []
        while True:
            try:
                items.append(self.sent.get_nowait())
            except queue.Empty:
                return items
