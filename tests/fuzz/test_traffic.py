"""Whose request it was, what came back, and what may be written about it."""

from __future__ import annotations

import requests
from schemathesis.core.transport import Response

from harness.adapters import Session
from harness.matcher import CanaryMatcher
from harness.models import ANONYMOUS_ID, Actor, Canary, Finding, Severity, Surface, SurfaceKind
from scenarios.fuzz.traffic import Credentials, echoed, observation_of, scrub, sent_canaries

ALICE = Actor("p0", "patient")
BOB = Actor("p1", "patient")


def _session(actor: Actor, token: str, cookie: str) -> Session:
    return Session(actor, headers={"Authorization": f"Bearer {token}"}, cookies={"session": cookie})


def _credentials() -> Credentials:
    credentials = Credentials(["Authorization"])
    credentials.learn(_session(ALICE, "alice-token-1", "alice-cookie-1"))
    credentials.learn(_session(BOB, "bob-token-1", "bob-cookie-1"))
    return credentials


def test_the_actor_is_read_from_the_credentials_on_the_wire() -> None:
    credentials = _credentials()
    assert credentials.actor_of({"authorization": "Bearer bob-token-1"}) == "p1"
    assert credentials.actor_of({"Cookie": "theme=dark; session=alice-cookie-1"}) == "p0"
    # a missing-auth case, or a generated (garbage) token, reaches the server as nobody
    assert credentials.actor_of({}) == ANONYMOUS_ID
    assert credentials.actor_of({"Authorization": "Bearer 0000"}) == ANONYMOUS_ID
    # an earlier token stays known after a re-login
    credentials.learn(_session(ALICE, "alice-token-2", "alice-cookie-2"))
    assert credentials.actor_of({"Authorization": "Bearer alice-token-1"}) == "p0"
    assert credentials.actor_of({"Authorization": "Bearer alice-token-2"}) == "p0"


def _response(
    status: int,
    body: bytes,
    headers: dict[str, list[str]],
    url: str,
    method: str = "GET",
    sent: bytes | None = None,
) -> Response:
    prepared = requests.Request(
        method, url, headers={"Authorization": "Bearer alice-token-1"}, data=sent
    ).prepare()
    return Response(status, headers, body, prepared, 0.012, True)


def test_a_range_response_becomes_an_observation_with_its_byte_range() -> None:
    received = _response(
        206,
        b"\x00media",
        {
            "content-range": ["bytes 64-69/200"],
            "content-type": ["application/octet-stream"],
            "content-encoding": ["gzip"],
        },
        "http://127.0.0.1:8000/api/recordings/7/media?token=abc",
    )
    obs = observation_of(
        "p0", "fuzz/coverage/p0", "GET /api/recordings/{recording_id}/media", received
    )
    assert obs.url == "/api/recordings/7/media?token=abc"
    assert obs.byte_range == (64, 69)
    assert obs.body == b"\x00media"
    assert obs.content_type == "application/octet-stream"
    assert ("content-encoding", "gzip") in obs.headers  # the headers as received, all of them
    assert obs.elapsed == 0.012


def test_a_canary_the_request_carried_is_an_echo_not_a_leak() -> None:
    canary = Canary("zqabcdefghij", owner="p1", kind="note")
    matcher = CanaryMatcher([canary])
    received = _response(
        422,
        b'{"detail": "bad value zqabcdefghij"}',
        {"content-type": ["application/json"]},
        "http://x.test/api/search?q=zqabcdefghij",
    )
    obs = observation_of("p0", "s", "GET /api/search", received)
    carried = sent_canaries(obs, {"Authorization": "Bearer alice-token-1"}, matcher, _credentials())
    assert carried == (canary,)
    leak = Finding(
        "canary-leak",
        "canary-leak",
        Severity.CRITICAL,
        "m",
        "p0",
        Surface(SurfaceKind.ERROR, "GET /api/search"),
        "s",
        0.0,
        owner="p1",
        canary_kind="note",
    )
    assert echoed(leak, carried)
    assert not echoed(leak, ())
    other = Finding(
        "canary-leak",
        "canary-leak",
        Severity.CRITICAL,
        "m",
        "p0",
        Surface(SurfaceKind.ERROR, "GET /api/search"),
        "s",
        0.0,
        owner="p2",
        canary_kind="note",
    )
    assert not echoed(other, carried)


def test_a_reproduction_holds_no_credential_and_no_canary() -> None:
    canary = Canary("zqabcdefghij", owner="p1", kind="note")
    credentials = _credentials()
    curl = (
        "curl -X GET -H 'Authorization: Bearer alice-token-1' -H 'Cookie: session="
        "bob-cookie-1' 'http://x.test/api/search?q=ZQABCDEFGHIJ'"
    )
    clean = scrub(curl, credentials.secrets(), CanaryMatcher([canary]))
    assert "alice-token-1" not in clean and "bob-cookie-1" not in clean
    assert "<redacted>" in clean
    assert "zqabcdefghij" not in clean.lower() and "<canary of p1>" in clean
