"""Each planted fault shows its leak directly, and the same steps on the clean build show none.

switch-race needs real concurrency and lives in test_switch_race.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clinic.faults import FAULTS
from tests.clinic.conftest import MakeWorld
from tests.clinic.testclient import TestClient
from tests.clinic.world import PASSWORD, PATIENTS, World, foreign

Scenario = Callable[[World], list[str]]


def _names_in(data: bytes, *, except_user: str) -> list[str]:
    return [
        u
        for u, (name, nhs, _) in PATIENTS.items()
        if u != except_user and (name.encode() in data or nhs.encode() in data)
    ]


def misattribution(world: World) -> list[str]:
    world.call("alice", "join")
    world.call("bob", "join")
    assert world.call("alice", "switch", "video").status_code == 200
    leaks = []
    for recording in world.recordings("bob"):
        leaks += _names_in(world.media("bob", recording["id"]), except_user="bob")
    return leaks


def unscoped_after_switch(world: World) -> list[str]:
    for user in ("alice", "bob"):
        world.call(user, "join")
        world.call(user, "switch", "video")
    return [r["title"] for r in foreign(world.recordings("bob"), world, "bob")]


def recording_idor(world: World) -> list[str]:
    world.call("alice", "join")
    world.call("alice", "end")
    alices = world.recordings("alice")[0]["id"]
    leaks = []
    if world.get("bob", f"/api/recordings/{alices}").status_code == 200:
        leaks.append("metadata")
    if world.post("bob", f"/api/recordings/{alices}/media-token").status_code == 200:
        leaks += _names_in(world.media("bob", alices), except_user="bob")
    return leaks


def profile_cache(world: World) -> list[str]:
    for user in ("alice", "bob"):
        world.call(user, "join")
        world.call(user, "end")
    world.recordings("alice")
    leaked = [r["title"] for r in foreign(world.recordings("bob"), world, "bob")]
    pages = {user: _profile(world, user) for user in ("alice", "bob")}
    if PATIENTS["alice"][2] in pages["bob"]:
        leaked.append("profile page")
    return leaked


def clinician_scope(world: World) -> list[str]:
    world.call("carol", "join")
    world.call("carol", "end")
    items = world.get("dr_grey", "/api/clinician/recordings").json()["items"]
    return [r["title"] for r in items if r["patient_id"] == world.ids["carol"]]


def media_token_unbound(world: World) -> list[str]:
    for user in ("alice", "bob"):
        world.call(user, "join")
        world.call(user, "end")
    alices = world.recordings("alice")[0]["id"]
    bobs = world.recordings("bob")[0]["id"]
    token = world.post("alice", f"/api/recordings/{alices}/media-token").json()["token"]
    leaks = []
    other_recording = world.get("alice", f"/api/recordings/{bobs}/media", params={"token": token})
    if other_recording.status_code == 200:
        leaks += _names_in(other_recording.content, except_user="alice")
    other_user = world.get("carol", f"/api/recordings/{alices}/media", params={"token": token})
    if other_user.status_code == 200:
        leaks += _names_in(other_user.content, except_user="carol")
    return leaks


def appointments_on_rejoin(world: World) -> list[str]:
    world.call("alice", "join")
    world.call("bob", "join")
    world.call("bob", "switch", "video")
    world.call("alice", "leave")
    assert world.call("alice", "join").status_code == 200
    leaked = [a["reason"] for a in foreign(world.appointments("alice"), world, "alice")]
    if PATIENTS["bob"][2] in _profile(world, "alice"):
        leaked.append("profile page")
    return leaked


SCENARIOS: dict[str, Scenario] = {
    "switch-recording-misattribution": misattribution,
    "recordings-unscoped-after-switch": unscoped_after_switch,
    "recording-idor": recording_idor,
    "profile-cache-shared": profile_cache,
    "clinician-scope-leak": clinician_scope,
    "media-token-unbound": media_token_unbound,
    "appointments-leak-on-rejoin": appointments_on_rejoin,
}


def test_every_fault_has_a_scenario() -> None:
    assert set(SCENARIOS) | {"switch-race"} == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(SCENARIOS))
def test_fault_leaks(fault: str, make_world: MakeWorld) -> None:
    assert SCENARIOS[fault](make_world(fault)), f"{fault} planted but no leak observed"


@pytest.mark.parametrize("fault", sorted(SCENARIOS))
def test_same_steps_on_clean_build_do_not_leak(fault: str, make_world: MakeWorld) -> None:
    assert SCENARIOS[fault](make_world()) == []


def test_healthz_names_active_faults(make_world: MakeWorld) -> None:
    world = make_world("recording-idor", "switch-race")
    body = world.client.get("/healthz").json()
    assert body == {"status": "ok", "faults": ["recording-idor", "switch-race"]}


def _profile(world: World, user: str) -> str:
    browser = TestClient(world.client.app)
    browser.post("/login", data={"username": user, "password": PASSWORD})
    response = browser.get("/profile")
    assert response.status_code == 200
    return str(response.text)
