"""The sans-IO profile client against canned responses: no transport, no event loop. Each test
answers the client's instructions by hand and checks what it asked for and what it concluded.
The same client drives the harness over httpx (tests/unit/test_profile_target.py) and the load
over Locust (tests/load/test_virtual_user.py): those are the real-thing tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness.canaries import Grant, OwnershipModel, Visibility
from harness.client import (
    LoginRefused,
    ProfileClient,
    Relogin,
    Send,
    Session,
    read,
    run_flow,
    run_sync,
    scope_for,
)
from harness.coverage import CoverageRow
from harness.errors import TargetUnreachable
from harness.models import Actor, Observation
from harness.profile.model import ReadSpec, TargetProfile
from harness.profile.steps import Prepared
from harness.world import Completed, Resource, World
from tests.unit.fakeapp import PROFILE

BASE: dict[str, Any] = PROFILE
ALICE = Actor("p1", "user", "Alice", {"username": "alice", "password": "pw", "id": 1})


def _obs(send: Send, status: int, body: Any = None, **headers: str) -> Observation:
    raw = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    return Observation(
        actor=send.actor,
        step=send.action,
        method=send.prepared.method,
        url=send.prepared.path,
        endpoint=send.route,
        status=status,
        headers=tuple((k.replace("_", "-"), v) for k, v in headers.items()),
        body=raw or b"",
        time=0.0,
        content_type="application/json" if body is not None else "",
        byte_range=_range(headers.get("content_range", "")) if status == 206 else None,
    )


def _range(value: str) -> tuple[int, int] | None:
    span = value.removeprefix("bytes ").split("/")[0]
    first, _, last = span.partition("-")
    return (int(first), int(last)) if last else None


class Script:
    """A driver that answers from a function of the request, and logs what was sent."""

    def __init__(self, client: ProfileClient, answer: Callable[[Send], Observation]) -> None:
        self.client = client
        self.answer = answer
        self.sent: list[tuple[str, str, str]] = []  # method path, route, Authorization
        self.tokens = 0
        self.sends: list[Send] = []

    def send(self, send: Send) -> Observation:
        prep = send.prepared
        self.sends.append(send)
        self.sent.append(
            (f"{prep.method} {prep.path}", send.route, send.headers.get("Authorization", ""))
        )
        return self.answer(send)

    def relogin(self, relogin: Relogin) -> bool:
        self.run(self.client.login(relogin.session))
        return True

    def run(self, flow: Any) -> Any:
        return run_sync(flow, self.send, self.relogin)


def _client(shapes: int = 0, **changes: Any) -> ProfileClient:
    """A client; `shapes`: how many owner reads per route also go out in their variants (the
    tests of other behaviour count exact requests, so none by default)."""
    client = ProfileClient(TargetProfile.model_validate({**PROFILE, **changes}))
    client.variant_reads = shapes
    return client


def _logins(script: Script) -> Callable[[Send], Observation | None]:
    def login(send: Send) -> Observation | None:
        if send.prepared.path == "/login":
            script.tokens += 1
            return _obs(send, 200, {"token": f"t{script.tokens}"})
        return None

    return login


def _lost(rows: list[CoverageRow]) -> dict[str, tuple[str, ...]]:
    return {r.route: tuple(reason for reason, _ in r.reasons) for r in rows if r.lost}


def test_login_renders_the_steps_sends_no_credentials_and_fills_the_session() -> None:
    client = _client()
    session = Session(actor=ALICE)
    flow = client.login(session)
    send = next(flow)
    assert isinstance(send, Send)
    assert (send.prepared.method, send.prepared.path) == ("POST", "/login")
    assert send.prepared.json_body == {"username": "alice", "password": "pw"}
    assert "Authorization" not in send.headers and send.retry is False
    with pytest.raises(StopIteration):
        flow.send(_obs(send, 200, {"token": "abc"}))
    assert session.headers == {"Authorization": "Bearer abc"}
    assert session.generation == 1 and session.token == "abc"


def test_a_refused_login_says_who_and_what_answered() -> None:
    client = _client()
    flow = client.login(Session(actor=ALICE))
    send = next(flow)
    assert isinstance(send, Send)
    with pytest.raises(LoginRefused, match="could not log in as p1: POST /login answered 401"):
        flow.send(_obs(send, 401, {"detail": "bad credentials"}))


def test_an_expired_session_logs_in_again_and_the_read_is_repeated_once() -> None:
    client = _client()
    statuses = iter([401, 200])

    def answer(send: Send) -> Observation:
        return _logins(script)(send) or _obs(send, next(statuses), {"username": "alice"})

    script = Script(client, answer)
    session = Session(actor=ALICE)
    script.run(client.login(session))
    obs = script.run(client.send(session, Prepared("GET", "/me", "GET /me"), "look"))
    assert obs.status == 200
    assert script.sent == [
        ("POST /login", "POST /login", ""),
        ("GET /me", "GET /me", "Bearer t1"),
        ("POST /login", "POST /login", ""),
        ("GET /me", "GET /me", "Bearer t2"),
    ]
    assert session.generation == 2


def test_an_expiry_answer_counts_as_success_in_the_statistics_the_repeat_does_not() -> None:
    client = _client()
    session = Session(actor=ALICE, headers={"Authorization": "Bearer t1"}, generation=1)
    flow = client.send(session, Prepared("GET", "/me", "GET /me"), "look", ok=frozenset({200}))
    first = next(flow)
    assert isinstance(first, Send) and first.succeeded(401) and not first.succeeded(500)
    relogin = flow.send(_obs(first, 401))
    assert relogin == Relogin(session, 1)
    again = flow.send(True)
    assert isinstance(again, Send) and not again.succeeded(401)


def test_a_session_older_than_every_seconds_logs_in_before_it_sends() -> None:
    now = [1000.0]
    client = ProfileClient(
        TargetProfile.model_validate(
            {**PROFILE, "auth": {**BASE["auth"], "relogin": {"every_seconds": 60}}}
        ),
        clock=lambda: now[0],
    )
    session = Session(actor=ALICE, obtained=1000.0, generation=3)
    flow = client.send(session, Prepared("GET", "/me", "GET /me"), "look")
    assert isinstance(next(flow), Send)  # young enough
    now[0] = 1061.0
    flow = client.send(session, Prepared("GET", "/me", "GET /me"), "look")
    assert next(flow) == Relogin(session, 3)


def test_a_401_is_a_denial_while_the_session_check_passes_and_lost_after_it_fails() -> None:
    client = _client()
    alive = iter([200, 401])

    def answer(send: Send) -> Observation:
        if send.prepared.path == "/me":
            return _obs(send, next(alive))
        return _logins(script)(send) or _obs(send, 401)

    script = Script(client, answer)
    session = Session(actor=ALICE)
    script.run(client.login(session))
    spec = ReadSpec.model_validate({"get": "/notes/9"})
    script.run(read(client, session, spec, {}, "look"))
    assert _lost(client.coverage.rows()) == {}
    script.run(read(client, session, spec, {}, "look"))  # relogged in: a new check is asked
    assert _lost(client.coverage.rows()) == {"GET /notes/9": ("HTTP 401 after re-login",)}


def _pages_answer(pages: int, style: str) -> Callable[[Send], Observation]:
    def answer(send: Send) -> Observation:
        path = send.prepared.path
        number = int(path.rsplit("=", 1)[1]) if "=" in path else 1
        items = [{"id": f"n{number}", "owner_id": 1}] if number <= pages else []
        more = number < pages
        if style == "link-header":
            link = {"link": f'</notes?page={number + 1}>; rel="next"'} if more else {}
            return _obs(send, 200, items, **link)
        if style == "json":
            return _obs(
                send, 200, {"items": items, "next": f"/notes?at={number + 1}" if more else None}
            )
        if style == "cursor":
            return _obs(send, 200, {"items": items, "next_cursor": str(number + 1) if more else ""})
        return _obs(send, 200, {"items": items})  # page: ends at the first empty page

    return answer


@pytest.mark.parametrize(
    ("style", "page", "items"),
    [
        ("link-header", {"next": "link-header"}, ""),
        ("json", {"next": "json"}, "/items"),
        ("cursor", {"next": "cursor"}, "/items"),
        ("page", {"next": "page"}, "/items"),
    ],
)
def test_a_paginated_list_is_walked_to_its_end_each_later_page_under_its_own_route(
    style: str, page: dict[str, Any], items: str
) -> None:
    entities = {"note": {"lists": ["GET /notes"], "owner": {"field": "/owner_id", "var": "id"}}}
    if items:
        entities["note"]["items"] = items
    client = _client(entities=entities)
    world = World("http://t", 1, {"p1": ALICE}, OwnershipModel((), Visibility()))
    client.world_changed(world)
    script = Script(client, _pages_answer(3, style))
    spec = ReadSpec.model_validate({"get": "/notes", "page": page})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    routes = [o.endpoint for o in seen]
    expected = ["GET /notes", "GET /notes (page 2)", "GET /notes (page 3)"]
    assert routes == ([*expected, "GET /notes (page 4)"] if style == "page" else expected)
    assert _lost(client.coverage.rows()) == {}
    assert all(o.read == o.endpoint for o in seen)  # each page may be replayed


def test_a_list_still_going_at_its_bound_is_lost_coverage() -> None:
    client = _client()
    script = Script(client, _pages_answer(100, "link-header"))
    spec = ReadSpec.model_validate(
        {"get": "/notes", "page": {"next": "link-header", "max_pages": 2}}
    )
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert len(seen) == 2
    assert _lost(client.coverage.rows()) == {"GET /notes": ("page bound reached (2 pages)",)}


def test_a_list_that_links_back_to_a_page_already_read_ends_there() -> None:
    client = _client()
    script = Script(client, lambda send: _obs(send, 200, [], link='</notes>; rel="next"'))
    spec = ReadSpec.model_validate({"get": "/notes", "page": {"next": "link-header"}})
    assert len(script.run(read(client, Session(actor=ALICE), spec, {}, "look"))) == 1


def _ranged(send: Send) -> Observation:
    if "Range" not in send.headers:
        return _obs(send, 200, b"x" * 200)
    start, end = send.headers["Range"].removeprefix("bytes=").split("-")
    return _obs(send, 206, b"x", content_range=f"bytes {start}-{end}/200")


def test_media_is_read_in_two_ranges_then_whole_each_in_its_own_statistics_row() -> None:
    client = _client()
    script = Script(client, _ranged)
    spec = ReadSpec.model_validate({"get": "/media/1", "range": "halves"})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    sends = script.sends
    assert [s.headers.get("Range") for s in sends] == ["bytes=0-63", "bytes=64-199", None]
    rows = ["GET /media/1", "GET /media/1 (rest)", "GET /media/1 (whole)"]
    assert [s.row for s in sends] == rows
    assert [o.byte_range for o in seen] == [(0, 63), (64, 199), None]


def _two_paths(whole: bytes, ranged: bytes) -> Callable[[Send], Observation]:
    """A server whose whole downloads and ranged reads come from two paths."""

    def answer(send: Send) -> Observation:
        if "Range" not in send.headers:
            return _obs(send, 200, whole)
        start, end = map(int, send.headers["Range"].removeprefix("bytes=").split("-"))
        span = f"bytes {start}-{end}/{len(ranged)}"
        return _obs(send, 206, ranged[start : end + 1], content_range=span)

    return answer


def test_halves_that_play_another_file_than_the_download_are_judged_joined() -> None:
    client = _client()
    script = Script(client, _two_paths(bytes(200), bytes(range(200))))
    spec = ReadSpec.model_validate({"get": "/media/1", "range": "halves"})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert len(script.sends) == 3  # the joined file is no request of its own
    assert [o.byte_range for o in seen] == [(0, 63), (64, 199), (0, 199), None]
    assert seen[2].body == bytes(range(200)) and seen[2].complete and not seen[0].complete
    assert seen[2].header("content-range") == "bytes 0-199/200"
    assert seen[2].read == ""  # the access suite repeats the halves' read, not this
    assert seen[-1].status == 200  # the download stays last: later steps capture from it


def test_halves_that_play_the_downloaded_file_are_not_judged_twice() -> None:
    client = _client()
    script = Script(client, _two_paths(bytes(range(200)), bytes(range(200))))
    spec = ReadSpec.model_validate({"get": "/media/1", "range": "halves"})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert [o.byte_range for o in seen] == [(0, 63), (64, 199), None]


def test_a_small_body_is_not_asked_for_its_rest_but_still_whole() -> None:
    client = _client()

    def answer(send: Send) -> Observation:
        if "Range" not in send.headers:
            return _obs(send, 200, b"x" * 10)
        return _obs(send, 206, b"x", content_range="bytes 0-9/10")

    script = Script(client, answer)
    spec = ReadSpec.model_validate({"get": "/media/1", "range": "halves"})
    seen = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert [s.headers.get("Range") for s in script.sends] == ["bytes=0-63", None]
    assert [o.status for o in seen] == [206, 200]


def test_a_server_that_ignores_range_is_not_asked_again() -> None:
    client = _client()
    script = Script(client, lambda send: _obs(send, 200, b"x" * 200))
    spec = ReadSpec.model_validate({"get": "/media/1", "range": "halves"})
    assert len(script.run(read(client, Session(actor=ALICE), spec, {}, "look"))) == 1


def test_no_answer_is_lost_coverage_and_still_raised() -> None:
    client = _client()

    def answer(send: Send) -> Observation:
        raise TargetUnreachable("http://t did not answer GET /me", "check it")

    script = Script(client, answer)
    spec = ReadSpec.model_validate({"get": "/me"})
    with pytest.raises(TargetUnreachable):
        script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    reasons = _lost(client.coverage.rows())
    assert reasons == {"GET /me": ("no answer (http://t did not answer GET /me)",)}


def test_a_flow_stops_at_a_conflict_and_says_so() -> None:
    flows = {
        "end": {
            "steps": [{"post": "/notes/{{note.id}}/end", "expect": [200]}, {"get": "/after"}],
            "conflict": [409],
        }
    }
    client = _client(flows=flows)
    script = Script(client, lambda send: _obs(send, 409))
    run = script.run(run_flow(client, Session(actor=ALICE), "end", {"note": {"id": 7}}, "end"))
    assert (run.ok, run.status, run.conflict) == (False, 409, True)
    assert [s[0] for s in script.sent] == ["POST /notes/7/end"]


def test_placeholders_name_the_relations_the_run_and_the_support_token() -> None:
    roles: dict[str, Any] = BASE["roles"]
    profile = TargetProfile.model_validate(
        {
            **PROFILE,
            "roles": {**roles, "doctor": roles["user"]},
            "relations": {"care": {"observer": "doctor", "owner": "user"}},
        }
    )
    doc = Actor("c1", "doctor", "Dr", {"username": "doc"})
    visibility = Visibility([Grant("c1", "p1", "care")])
    world = World("http://t", 7, {"p1": ALICE, "c1": doc}, OwnershipModel((), visibility), tag="r1")
    book = Resource("book", "p1", 0, {"title": "T"})
    scope = scope_for(profile, world, ALICE, book, support_token="s3cret")
    assert scope["care"] == {"username": "doc", "actor": "c1"}
    assert scope["support"] == {"token": "s3cret"}
    assert scope["run"] == {"tag": "r1", "seed": 7}
    assert scope["book"] == {"title": "T"} and scope["owner"]["actor"] == "p1"


def test_the_world_applies_a_completed_move_and_a_denial() -> None:
    doc1 = Actor("c1", "doctor")
    doc2 = Actor("c2", "doctor")
    visibility = Visibility([Grant("c1", "p1", "care", since=0.0)])
    actors = {"p1": ALICE, "c1": doc1, "c2": doc2}
    world = World("http://t", 1, actors, OwnershipModel((), visibility))
    assert world.next_observer("care", "doctor", "p1") == "c2"
    world.apply(Completed("move for p1", "p1", 10.0, 11.0, "care", "c2"))
    assert visibility.related("care", "p1", at=12.0) == ["c2"]
    assert visibility.may_see("c1", "p1", (10.5, 10.5)) and not visibility.may_see(
        "c1", "p1", (12, 12)
    )
    assert world.next_observer("care", "doctor", "p1") is None  # already with the receiver
    world.apply(Completed("delete for p1", "p1", 20.0, 21.0, entity=("note", "n1"), to="everyone"))
    assert world.ownership.visibility.denied("c2", "note", "n1", (22.0, 22.0)) is not None


def test_an_owners_read_also_goes_out_in_its_shapes_once_per_route() -> None:
    client = _client(shapes=1)
    script = Script(client, lambda send: _obs(send, 200, {"items": []}))
    spec = ReadSpec.model_validate({"get": "/notes?q=x"})
    first = script.run(read(client, Session(actor=ALICE), spec, {}, "look", about=ALICE.id))
    rows = {s.row for s in script.sends[1:]}
    assert len(first) > 1 and all(r.startswith("GET /notes (variant: ") for r in rows)
    paths = [s.prepared.path for s in script.sends]
    assert "/notes/?q=x" in paths  # with the trailing slash
    assert any(s.headers.get("Accept") for s in script.sends[1:])
    assert {r.route for r in client.coverage.rows()} >= {"GET /notes (variant: slash)"}
    assert client.coverage.sources() == {"variants": len(first) - 1}
    again = script.run(read(client, Session(actor=ALICE), spec, {}, "look"))
    assert len(again) == 1  # bounded: the route's variants were sent already


def test_a_read_of_someone_elses_data_goes_out_as_it_is() -> None:
    client = _client(shapes=1)
    script = Script(client, lambda send: _obs(send, 200, {"items": []}))
    spec = ReadSpec.model_validate({"get": "/notes?q=x"})
    assert len(script.run(read(client, Session(actor=ALICE), spec, {}, "look", about="b"))) == 1


def test_a_variant_tries_the_query_values_other_reads_of_the_route_sent() -> None:
    client = _client(shapes=1)
    client.variant_limit = 50
    script = Script(client, lambda send: _obs(send, 200, {"items": []}))
    other = ReadSpec.model_validate({"get": "/notes?q=flu"})
    script.run(read(client, Session(actor=ALICE), other, {}, "look", about="b"))
    sent = len(script.sends)
    own = ReadSpec.model_validate({"get": "/notes?q=x"})
    script.run(read(client, Session(actor=ALICE), own, {}, "look"))
    assert "/notes?q=flu" in [s.prepared.path for s in script.sends[sent:]]
