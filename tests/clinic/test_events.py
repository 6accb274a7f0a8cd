"""`/ws/events`: who may connect, what a call's participants hear, and that no one else does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from clinic.settings import ClinicSettings
from tests.clinic.conftest import MakeWorld
from tests.clinic.server import running_clinic
from tests.clinic.world import PASSWORD, PATIENTS, SUPPORT_TOKEN, World, seed


def _until_own(socket: Any, world: World, user: str) -> list[dict[str, Any]]:
    """Events up to and including the one for `user`'s own call."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["consultation_id"] != world.calls[user]:
        events.append(socket.receive_json())
    return events


def test_participants_hear_their_call(make_world: MakeWorld) -> None:
    world = make_world()
    with (
        world.client.websocket_connect("/ws/events", headers=world.headers("alice")) as alice,
        world.client.websocket_connect("/ws/events", headers=world.headers("dr_grey")) as grey,
    ):
        world.call("alice", "join")
        world.call("alice", "switch", "video")
        world.call("alice", "leave")
        world.call("alice", "join")
        world.call("alice", "end")
        expected = ["joined", "switched", "recording-filed", "left", "joined", "ended"]
        expected.append("recording-filed")
        for socket in (alice, grey):
            events = [socket.receive_json() for _ in expected]
            assert [e["type"] for e in events] == expected
            assert {e["consultation_id"] for e in events} == {world.calls["alice"]}
            assert {e["patient_name"] for e in events} == {PATIENTS["alice"][0]}
            filed = [e["recording"] for e in events if e["recording"] is not None]
            assert [r["mode"] for r in filed] == ["audio", "video"]
            assert all(e["at"].endswith("Z") for e in events)
            assert events[1]["mode"] == "video"


def test_other_users_hear_nothing(make_world: MakeWorld) -> None:
    world = make_world()
    headers = world.headers("carol")
    with world.client.websocket_connect("/ws/events", headers=headers) as carol:
        world.call("alice", "join")
        world.call("alice", "end")
        world.call("carol", "join")
        assert [e["type"] for e in _until_own(carol, world, "carol")] == ["joined"]


@pytest.mark.parametrize("how", ["cookie", "query"])
def test_cookie_and_query_token_authenticate(make_world: MakeWorld, how: str) -> None:
    world = make_world()
    token = world.tokens.get("bob") or world.headers("bob")["Authorization"].split()[1]
    url = f"/ws/events?token={token}" if how == "query" else "/ws/events"
    headers = {"Cookie": f"session={token}"} if how == "cookie" else {}
    with world.client.websocket_connect(url, headers=headers) as bob:
        world.call("bob", "join")
        assert bob.receive_json()["type"] == "joined"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_unauthenticated_socket_is_closed_1008(make_world: MakeWorld, token: str | None) -> None:
    world = make_world()
    url = "/ws/events" + (f"?token={token}" if token else "")
    with (
        world.client.websocket_connect(url) as socket,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        socket.receive_json()
    assert closed.value.code == 1008


@pytest.mark.integration
def test_real_server_pushes_events_over_websockets(tmp_path: Path) -> None:
    config = ClinicSettings(
        data_dir=tmp_path, support_token=SUPPORT_TOKEN, switch_negotiation_seconds=0.0
    )
    with running_clinic(config) as base_url, httpx.Client(base_url=base_url) as client:
        world = seed(client)
        ws_url = base_url.replace("http://", "ws://") + "/ws/events"
        login = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        token = login.json()["token"]
        with connect(f"{ws_url}?token={token}", open_timeout=10) as socket:
            world.call("alice", "join")
            event = json.loads(socket.recv(timeout=10))
            assert (event["type"], event["consultation_id"]) == ("joined", world.calls["alice"])
        with connect(ws_url, open_timeout=10) as anonymous, pytest.raises(ConnectionClosed) as end:
            anonymous.recv(timeout=10)
        assert end.value.rcvd is not None and end.value.rcvd.code == 1008


def test_a_transferred_patients_old_clinician_hears_nothing(make_world: MakeWorld) -> None:
    world = make_world()
    url = f"/api/clinician/patients/{world.ids['alice']}/transfer"
    assert world.post("dr_grey", url, json={"to_clinician": "dr_hale"}).status_code == 200
    with world.client.websocket_connect("/ws/events", headers=world.headers("dr_grey")) as grey:
        world.one_call("alice")  # the appointment was booked with dr_grey before the transfer
        world.call("bob", "join")
        assert [e["patient_name"] for e in _until_own(grey, world, "bob")] == [PATIENTS["bob"][0]]
