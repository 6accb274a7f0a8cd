"""One load user, driven by the clinic profile against a scripted in-memory app (no Locust):
login and re-login, reads and their coverage, pagination, `each` reads, journeys."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.client.listing import EntityParser
from harness.coverage import Coverage
from harness.models import Finding, Observation
from harness.profile.model import TargetProfile
from harness.world import World
from load.checker import LeakChecker, observation_of
from load.contract import LoadSettings
from load.virtual_user import Process, Request, VirtualUser, wave_delay
from load.workload import Workload
from tests.load.worlds import clinic_profile, memory_world, of_role

Reply = tuple[int, dict[str, str], bytes]


def _json(status: int, document: Any, **headers: str) -> Reply:
    return status, {"content-type": "application/json", **headers}, json.dumps(document).encode()


@dataclass
class FakeApp:
    """Answers like the clinic would, from handlers keyed by (method, path regex)."""

    world: World
    handlers: dict[tuple[str, str], Callable[[Request, re.Match[str]], Reply]] = field(
        default_factory=dict
    )
    sent: list[Request] = field(default_factory=list)
    outcomes: list[tuple[str, bool]] = field(default_factory=list)  # (stats row, counted ok)
    tokens: dict[str, str] = field(default_factory=dict)  # live token -> username

    def __post_init__(self) -> None:
        self.on("POST", "/api/login", self.login)
        self.on("GET", "/api/me", lambda r, m: self.authed(r, _json(200, {"ok": True})))
        self.on(
            "GET", r"/api/me/recordings.*", lambda r, m: self.authed(r, _json(200, {"items": []}))
        )
        self.on("POST", r"/api/consultations/(\d+)/(join|switch|end)", lambda r, m: _json(200, {}))

    def on(
        self, method: str, pattern: str, handler: Callable[[Request, re.Match[str]], Reply]
    ) -> None:
        self.handlers.pop((method, pattern), None)
        self.handlers = {(method, pattern): handler, **self.handlers}  # later ones win

    def login(self, request: Request, match: re.Match[str]) -> Reply:
        body = request.prepared.json_body
        token = f"t{len(self.tokens)}-{body['username']}"
        self.tokens[token] = body["username"]
        # The clinic sets its session cookie and its readable remember-me cookie (one
        # Set-Cookie header each: send() splits the lines).
        cookies = f"session=s-{token}; Path=/\nremember_user={body['username']}"
        return _json(200, {"token": token}, **{"set-cookie": cookies})

    def authed(self, request: Request, reply: Reply) -> Reply:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        cookie = request.headers.get("Cookie", "")
        jar = dict(part.split("=", 1) for part in cookie.split("; ") if "=" in part)
        if bearer not in self.tokens or jar.get("session") != f"s-{bearer}":
            return _json(401, {"detail": "not logged in"})
        return reply

    def expire_all(self) -> None:
        self.tokens.clear()

    def send(self, request: Request) -> Observation:
        self.sent.append(request)
        prep = request.prepared
        path = prep.path.split("?", 1)[0] if "?" not in prep.path else prep.path
        reply: Reply = (404, {}, b"")
        for (method, pattern), handler in self.handlers.items():
            match = re.fullmatch(pattern, path) or re.fullmatch(pattern, prep.path.split("?")[0])
            if method == prep.method and match:
                reply = handler(request, match)
                break
        status, headers, body = reply
        self.outcomes.append((request.name, request.ok(status)))
        return observation_of(
            actor=request.actor,
            step=request.step,
            endpoint=prep.route,
            method=prep.method,
            url=prep.path,
            status=status,
            headers=[(k, line) for k, v in headers.items() for line in v.split("\n")],
            body=body,
            elapsed=0.001,
            about=request.about,
        )


@dataclass
class Harness:
    world: World
    app: FakeApp
    process: Process
    found: list[Finding]
    sleeps: list[float]

    def user(self, actor: str) -> VirtualUser:
        return VirtualUser(
            self.process, self.world.actors[actor], self.app.send, sleep=self.sleeps.append
        )


def make(profile: TargetProfile | None = None, **world: Any) -> Harness:
    profile = profile or clinic_profile()
    w = memory_world(profile=profile, **world)
    found: list[Finding] = []
    entities = EntityParser(profile, w)
    process = Process(
        Workload(profile, w),
        LoadSettings(flow_users=2, wave_seconds=0.5),
        entities,
        LeakChecker.for_world(w),
        found.extend,
    )
    return Harness(w, FakeApp(w), process, found, [])


def _rows(h: Harness) -> dict[str, tuple[int, int, tuple[tuple[str, int], ...]]]:
    return {r.route: (r.checked, r.lost, r.reasons) for r in h.process.coverage.rows()}


def test_login_applies_the_profiles_header_and_cookie() -> None:
    h = make()
    user = h.user(of_role(h.world, "patient")[0])
    assert user.login()
    [login] = h.app.sent
    assert login.prepared.json_body["username"] == user.actor.vars["username"]
    assert "Authorization" not in login.headers
    assert user.session.credentials() == {
        "Authorization": f"Bearer {user.session.captures['token']}",
        "Cookie": f"session=s-{user.session.captures['token']}; "
        f"remember_user={user.actor.vars['username']}",
    }


def test_a_401_logs_in_again_and_repeats_the_read() -> None:
    h = make()
    user = h.user(of_role(h.world, "patient")[0])
    user.login()
    h.app.expire_all()
    [read] = [r for r in h.process.workload.reads if r.label == "GET /api/me/recordings"]
    [obs] = user.read(read)
    assert obs.status == 200
    names = [r.name for r in h.app.sent]
    assert names == [
        "POST /api/login",
        "GET /api/me/recordings",
        "POST /api/login",
        "GET /api/me/recordings",
    ]
    # The 401 that triggered the re-login is not an error of the target.
    assert all(ok for _, ok in h.app.outcomes)
    assert _rows(h)["GET /api/me/recordings"] == (1, 0, ())


def test_reads_that_prove_nothing_are_lost_coverage() -> None:
    h = make()
    user = h.user(of_role(h.world, "patient")[0])
    user.login()
    [read] = [r for r in h.process.workload.reads if r.label == "GET /api/me/recordings"]
    h.app.on("GET", r"/api/me/recordings.*", lambda r, m: (503, {}, b"busy"))
    user.read(read)
    h.app.on("GET", r"/api/me/recordings.*", lambda r, m: (0, {}, b""))
    user.read(read)
    h.app.on("GET", r"/api/me/recordings.*", lambda r, m: _json(401, {}))
    h.app.on("GET", "/api/me", lambda r, m: _json(401, {}))  # the session check fails too
    user.read(read)
    checked, lost, reasons = _rows(h)["GET /api/me/recordings"]
    assert (checked, lost) == (0, 3)
    assert dict(reasons) == {"HTTP 503": 1, "no answer": 1, "HTTP 401 after re-login": 1}
    assert [f.kind for f in h.found] == ["server-error"]  # the 503, judged like any response


def test_reads_after_a_worker_swaps_its_tally_are_counted_in_the_new_one() -> None:
    """A worker sends what it counted to the master and starts a fresh tally
    (`process.coverage = Coverage()`): later reads must land there, not in the sent one."""
    h = make()
    user = h.user(of_role(h.world, "patient")[0])
    user.login()
    [read] = [r for r in h.process.workload.reads if r.label == "GET /api/me/recordings"]
    user.read(read)
    sent, h.process.coverage = h.process.coverage, Coverage()
    user.read(read)
    user.read(read)
    assert _rows(h)["GET /api/me/recordings"] == (2, 0, ())
    assert {r.route: r.checked for r in sent.rows()} == {"GET /api/me/recordings": 1}


def test_a_401_while_the_session_is_alive_is_a_denial_not_lost() -> None:
    h = make()
    user = h.user(of_role(h.world, "patient")[0])
    user.login()
    [read] = [r for r in h.process.workload.reads if r.label == "GET /api/me/recordings"]
    h.app.on("GET", r"/api/me/recordings.*", lambda r, m: _json(401, {}))
    user.read(read)
    assert _rows(h)["GET /api/me/recordings"] == (1, 0, ())


def test_sessions_older_than_every_seconds_are_renewed_first() -> None:
    profile = clinic_profile()
    auth = profile.auth.model_copy(
        update={"relogin": profile.auth.relogin.model_copy(update={"every_seconds": 30})}
    )
    h = make(profile.model_copy(update={"auth": auth}))
    user = h.user(of_role(h.world, "patient")[0])
    user.login()
    user.session.obtained -= 31
    user.read_something()
    assert [r.name for r in h.app.sent][:2] == ["POST /api/login", "POST /api/login"]


def test_a_foreign_item_in_a_list_is_found_and_each_reads_follow_what_was_seen() -> None:
    h = make()
    me, other = of_role(h.world, "patient")[:2]
    other_id = h.world.actors[other].vars["id"]
    secret = next(c.value for c in h.world.ownership.for_owner(other) if c.kind == "note")
    items = [{"id": 41, "patient_id": other_id, "title": f"video: {secret}"}]
    h.app.on("GET", r"/api/me/recordings.*", lambda r, m: _json(200, {"items": items}))
    h.app.on("GET", r"/api/recordings/(\d+)", lambda r, m: _json(200, {"id": int(m.group(1))}))
    user = h.user(me)
    user.login()
    [meta] = [
        r for r in h.process.workload.reads if r.label == "GET /api/recordings/{recording_id}"
    ]
    first = user.read(meta)  # nothing seen yet: reads the list first
    assert [o.endpoint for o in first] == ["GET /api/me/recordings"]
    [opened] = user.read(meta)
    assert opened.url == "/api/recordings/41" and opened.about == other
    kinds = {(f.kind, f.owner) for f in h.found}
    assert kinds == {("foreign-recording", other), ("canary-leak", other)}
    assert _rows(h)["GET /api/recordings/{recording_id}"] == (1, 0, ())


def test_lists_are_walked_to_their_last_page() -> None:
    profile = clinic_profile()
    document = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    for read in document["reads"]:
        if read["steps"][0]["path"].startswith("/api/me/recordings"):
            read["page"] = {"next": "page", "param": "page", "max_pages": 5}
    h = make(TargetProfile.model_validate(document))
    me = of_role(h.world, "patient")[0]
    my_id = h.world.actors[me].vars["id"]

    def page(request: Request, match: re.Match[str]) -> Reply:
        found = re.search(r"[?&]page=(\d+)", request.prepared.path)
        number = int(found.group(1)) if found else 1
        items = [{"id": number, "patient_id": my_id}] if number <= 3 else []
        return _json(200, {"items": items})

    h.app.on("GET", r"/api/me/recordings.*", page)
    user = h.user(me)
    user.login()
    [read] = [r for r in h.process.workload.reads if r.label == "GET /api/me/recordings"]
    seen = user.read(read)
    # each page is judged under its own route, as in the harness (a count needs page 1 alone)
    assert [o.endpoint for o in seen] == [
        "GET /api/me/recordings",
        "GET /api/me/recordings (page 2)",
        "GET /api/me/recordings (page 3)",
        "GET /api/me/recordings (page 4)",
    ]
    assert [r.name for r in h.app.sent[1:]] == [
        "GET /api/me/recordings",
        "GET /api/me/recordings (page 2)",
        "GET /api/me/recordings (page 3)",
        "GET /api/me/recordings (page 4)",
    ]


def test_a_journey_drives_each_resource_from_join_to_end_in_waves() -> None:
    h = make(appointments=2)
    workload = h.process.workload
    assignment = workload.assignment(0, 2)
    # Two journey users for four patients: each drives one patient's two calls.
    assert assignment is not None and len(assignment.resources) == 2
    user = h.user(assignment.actor.id)
    user.login()
    done = list(user.journey(assignment))
    per_call = ["join", *["switch_to_video", "switch_to_audio"] * 2, "end"]
    assert done == per_call * len(assignment.resources)
    flows = [r for r in h.app.sent if r.prepared.method == "POST" and "login" not in r.name]
    first_call = assignment.resources[0].vars["consultation_id"]
    assert [r.prepared.path for r in flows[:6]] == [
        f"/api/consultations/{first_call}/{action}"
        for action in ("join", "switch", "switch", "switch", "switch", "end")
    ]
    assert [r.prepared.json_body for r in flows[1:3]] == [{"mode": "video"}, {"mode": "audio"}]
    # Every switch and the end filed a recording: the user read its recordings after each.
    lists = [r.name for r in h.app.sent if r.name == "GET /api/me/recordings"]
    assert len(lists) == 5 * len(assignment.resources)
    assert len(h.sleeps) == 4 * len(assignment.resources)  # one wait per wave
    assert all(0 <= s <= 0.5 for s in h.sleeps)


def test_a_refused_join_moves_on_and_conflicts_are_not_errors() -> None:
    h = make(appointments=2)
    assignment = h.process.workload.assignment(0, 2)
    assert assignment is not None
    first_call = assignment.resources[0].vars["consultation_id"]
    h.app.on(
        "POST",
        rf"/api/consultations/{first_call}/join",
        lambda r, m: _json(409, {"detail": "consultation has ended"}),
    )
    h.app.on("POST", r"/api/consultations/(\d+)/switch", lambda r, m: _json(409, {}))
    user = h.user(assignment.actor.id)
    user.login()
    steps = user.journey(assignment)
    assert next(steps) == "join"
    assert next(steps) == "join"  # the first call could not be joined: the second one
    assert all(ok for _, ok in h.app.outcomes)  # 409s are the flows' `conflict` statuses
    h.app.on("POST", r"/api/consultations/(\d+)/switch", lambda r, m: _json(403, {}))
    next(steps)
    assert h.app.outcomes[-1] == ("POST /api/consultations/{consultation_id}/switch", False)


@pytest.mark.parametrize(("now", "delay"), [(100.2, 0.3), (100.5, 0.5), (100.0, 0.5)])
def test_waves_start_on_shared_wall_clock_instants(now: float, delay: float) -> None:
    assert wave_delay(0.5, now) == pytest.approx(delay)
