"""Signalling on `/ws/events` with real media: only a call's own participants get an answer."""

from __future__ import annotations

from tests.clinic.conftest import MakeWorld


def _offer(call: int) -> dict[str, object]:
    return {"type": "media-offer", "consultation_id": call, "sdp": "v=0"}


def test_an_offer_for_someone_elses_call_is_refused(make_world: MakeWorld) -> None:
    world = make_world(media="real")
    world.call("bob", "join")
    with world.client.websocket_connect("/ws/events", headers=world.headers("alice")) as alice:
        alice.send_json(_offer(world.calls["bob"]))
        answer = alice.receive_json()
    assert answer["type"] == "media-error" and "sdp" not in answer


def test_an_offer_for_a_call_not_yet_joined_or_garbage_is_refused(make_world: MakeWorld) -> None:
    world = make_world(media="real")
    with world.client.websocket_connect("/ws/events", headers=world.headers("alice")) as alice:
        alice.send_json(_offer(world.calls["alice"]))
        assert alice.receive_json()["type"] == "media-error"
        alice.send_text("not json")
        assert alice.receive_json()["type"] == "media-error"


def test_without_real_media_the_socket_ignores_what_clients_send(make_world: MakeWorld) -> None:
    world = make_world()
    with world.client.websocket_connect("/ws/events", headers=world.headers("alice")) as alice:
        alice.send_json(_offer(world.calls["alice"]))
        world.call("alice", "join")
        assert alice.receive_json()["type"] == "joined"
