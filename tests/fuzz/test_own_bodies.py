"""Fuzz writes carry only the sender's own data; a 5xx the fuzzer provoked is a contract
finding, never lost coverage of the leak oracle."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

from harness.adapters import Session
from harness.matcher import CanaryMatcher
from harness.models import Actor, Canary, Observation
from scenarios.fuzz.bodies import NEUTRAL, OwnBodies
from scenarios.fuzz.runner import Rotation, Sessions, _provider
from scenarios.fuzz.suite import Fuzz
from scenarios.fuzz.traffic import Credentials

A_NOTE = Canary("zqaaaaaaaaa1", "p0", "note")
A_NAME = Canary("zqaaaaaaaaa2", "p0", "name")
B_NOTE = Canary("zqbbbbbbbbb1", "p1", "note")
B_EMAIL = Canary("zqbbbbbbbbb2", "p1", "email")
CANARIES = (A_NOTE, A_NAME, B_NOTE, B_EMAIL)


def _bodies() -> OwnBodies:
    return OwnBodies(CanaryMatcher(CANARIES), CANARIES)


def test_another_users_canary_in_a_write_becomes_the_senders_own() -> None:
    bodies = _bodies()
    body = {
        "secret": f"note {B_NOTE.value} end",
        "tags": [B_EMAIL.value, "plain"],
        "mine": A_NAME.value,
        "count": 3,
    }
    sent = bodies.rewrite(body, "p0")
    assert sent["secret"] == f"note {A_NOTE.value} end"  # same kind first
    assert sent["tags"] == [A_NOTE.value, "plain"]  # no email of p0's: any of theirs
    assert sent["mine"] == A_NAME.value and sent["count"] == 3
    assert not [
        h for h in CanaryMatcher(CANARIES).scan(repr(sent).encode()) if h.canary.owner != "p0"
    ]
    assert bodies.swapped == 2
    assert bodies.rewrite(B_NOTE.value.upper().encode(), "p0") == A_NOTE.value.encode()
    assert bodies.rewrite(B_NOTE.value, "nobody") == NEUTRAL  # a sender who owns nothing


def test_a_recipient_address_in_a_write_is_the_senders_own() -> None:
    """A drawn address stored as p0's own would send p0's notifications to nobody seeded."""
    own = {"p0": {"email": "p0@example.test", "phone": "+447700900000"}}
    bodies = OwnBodies(CanaryMatcher(CANARIES), CANARIES, own)
    body = {"email": "a@b.c", "phone": 7, "contact": {"email": f"{B_EMAIL.value}@x.test"}}
    sent = bodies.rewrite(body, "p0")
    # a drawn address and another user's: both the sender's own; a number is not an address
    assert sent == {"email": "p0@example.test", "phone": 7, "contact": {"email": "p0@example.test"}}
    assert bodies.addressed == 2
    # a sender with no address of that kind (anonymous, a role nobody notifies) keeps the draw
    assert bodies.rewrite({"email": "a@b.c"}, "c0") == {"email": "a@b.c"}


def test_an_encoded_foreign_canary_drops_the_whole_value() -> None:
    encoded = base64.b64encode(f"x{B_NOTE.value}y".encode()).decode()
    assert _bodies().rewrite({"blob": encoded}, "p0") == {"blob": A_NOTE.value}


def _case(method: str, body: Any) -> SimpleNamespace:
    return SimpleNamespace(method=method, body=body, headers=None, cookies=None)


def test_the_auth_provider_swaps_foreign_canaries_in_writes_only() -> None:
    p0 = Actor("p0", "patient")
    sessions = Sessions(
        lambda a: Session(a, headers={"Authorization": "Bearer t"}), Credentials([])
    )
    rotation = Rotation([p0], sessions, _bodies())
    provider = _provider(rotation)()
    write = _case("POST", {"secret": B_NOTE.value})
    provider.set(write, provider.get(write, None), None)
    assert write.body == {"secret": A_NOTE.value}
    assert write.headers == {"Authorization": "Bearer t"}
    read = _case("GET", {"secret": B_NOTE.value})  # reads keep other users' values (IDORs)
    provider.set(read, provider.get(read, None), None)
    assert read.body == {"secret": B_NOTE.value}


def _fuzz(coverage: Any) -> Fuzz:
    fuzz = Fuzz.__new__(Fuzz)
    profile = SimpleNamespace(auth=SimpleNamespace(relogin=SimpleNamespace(on_status=(401,))))
    fuzz.ctx = SimpleNamespace(adapter=SimpleNamespace(profile=profile, coverage=coverage))  # type: ignore[assignment]
    fuzz.witness = SimpleNamespace(saw=lambda obs: False)  # type: ignore[assignment]
    fuzz.owners_seen = set()
    fuzz.sessions = None
    return fuzz


def test_a_provoked_5xx_is_not_lost_coverage_but_a_profile_read_5xx_still_is() -> None:
    lost: list[str] = []
    fuzz = _fuzz(
        SimpleNamespace(lost=lambda route, *_: lost.append(route), checked=lambda *_: None)
    )
    obs = Observation("p0", "fuzz/fuzzing/p0", "GET", "/api/x", "GET /api/x", 500, (), b"", 0.0)
    generated = SimpleNamespace(
        meta=SimpleNamespace(generation=SimpleNamespace(mode=SimpleNamespace(is_positive=True)))
    )
    fuzz._account(obs, "p0", "GET /api/x", generated)
    assert lost == []  # Schemathesis drew it: not_a_server_error reports it
    fuzz._account(obs, "p0", "GET /api/x", None)  # a warm-up/probe read from the profile
    assert lost == ["GET /api/x"]
