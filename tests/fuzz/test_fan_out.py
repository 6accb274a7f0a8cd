"""The examples phase draws each case once and sends it as every actor: the first through
Schemathesis's engine, the others again (Runner._send_again). Against a real HTTP server on
loopback: every actor's request arrives with its own credentials only, in the actor order,
and a failure that only another actor's request provokes is still a contract failure."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.adapters import Session
from harness.cancel import CancelReason, CancelScope
from harness.config import RunOptions
from harness.models import ANONYMOUS, Actor
from scenarios.fuzz.document import Plan
from scenarios.fuzz.runner import Rotation, Runner, Sessions
from scenarios.fuzz.traffic import Credentials

THING_ID = {
    "name": "thing_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "example": 7,
}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/things/{thing_id}": {
            "get": {
                "parameters": [THING_ID],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/things/{thing_id}/poke": {
            "post": {
                "parameters": [THING_ID],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


class _Server(ThreadingHTTPServer):
    seen: list[tuple[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self.server.seen.append((f"POST {self.path}", self.headers.get("Authorization", "")))
        self._answer(200)

    def do_GET(self) -> None:
        who = self.headers.get("Authorization", "")
        self.server.seen.append((self.path, who))
        # a bug only the clinician's requests reach: Schemathesis's engine sends as the
        # patient, so only the case sent again can show it
        self._answer(500 if who == "Bearer c0" else 200)

    def _answer(self, status: int) -> None:
        body = json.dumps({"id": 7}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_each_example_is_drawn_once_and_sent_as_every_actor(server: _Server) -> None:
    actors = [Actor("p0", "patient"), Actor("c0", "clinician"), ANONYMOUS]
    credentials = Credentials(["Authorization"])
    sessions = Sessions(
        lambda a: Session(a, headers={"Authorization": f"Bearer {a.id}"}), credentials
    )
    sessions.start(actors)
    plan = Plan(DOCUMENT, "", ("GET /things/{thing_id}", "POST /things/{thing_id}/poke"), (), ())
    options = RunOptions(fuzz_phases=("examples",), fuzz_examples=1)
    rotation = Rotation(actors[:1], sessions, fan_out=actors[1:])
    base = f"http://127.0.0.1:{server.server_port}"
    runner = Runner(plan, options, base, rotation, ("examples",))
    list(runner.events(time.time() + 60, CancelScope()))
    sent = [s for s in runner.drain() if s.case.method == "GET"]

    # the planted example, as the patient (the engine), then again as the clinician and
    # anonymous, each with their own credentials only (Schemathesis's capability probes go to
    # other paths); the reads go out at once, so they arrive in any order
    reads = [seen for seen in server.seen if seen[0].startswith("/things")]
    assert reads[0] == ("/things/7", "Bearer p0")
    assert sorted(reads[1:]) == [("/things/7", ""), ("/things/7", "Bearer c0")]
    # a write goes out as one actor after the other, in their order
    writes = [who for path, who in server.seen if path.startswith("POST")]
    assert writes == ["Bearer p0", "Bearer c0", ""]
    # and whatever the arrival order, they are judged in actor order
    assert [credentials.actor_of(dict(s.response.request.headers)) for s in sent] == [
        "p0",
        "c0",
        ANONYMOUS.id,
    ]
    assert len({s.case.id for s in sent}) == 3  # each sending is its own case
    # the clinician's 500 is a contract failure of their request, and only theirs
    failed = {credentials.actor_of(dict(s.response.request.headers)): s.failures for s in sent}
    assert failed[ANONYMOUS.id] == ()
    checks = {name for f in failed["c0"] for name in f.checks}
    assert "not_a_server_error" in checks, failed["c0"]


def test_nothing_is_sent_again_once_the_run_is_cancelled(server: _Server) -> None:
    actors = [Actor(f"p{i}", "patient") for i in range(6)]
    sessions = Sessions(
        lambda a: Session(a, headers={"Authorization": f"Bearer {a.id}"}), Credentials([])
    )
    plan = Plan(DOCUMENT, "", ("GET /things/{thing_id}",), (), ())
    options = RunOptions(fuzz_phases=("examples",), fuzz_examples=1)
    rotation = Rotation(actors[:1], sessions, fan_out=actors[1:])
    base = f"http://127.0.0.1:{server.server_port}"
    runner = Runner(plan, options, base, rotation, ("examples",))
    scope = CancelScope()
    scope.cancel(CancelReason.INTERRUPT)  # nothing is sent again once the run is cancelled
    list(runner.events(time.time() + 60, scope))
    things = [who for path, who in server.seen if path.startswith("/things")]
    assert things in ([], ["Bearer p0"]), things
