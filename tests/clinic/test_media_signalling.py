"""Signalling on `/ws/events` with real media: only a call's own participants get an answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.clinic.conftest import MakeWorld
from tests.clinic.world import PASSWORD, World


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


def _call_page(world: World, user: str) -> str:
    browser = TestClient(world.client.app)
    login = {"username": user, "password": PASSWORD}
    assert browser.post("/login", data=login, follow_redirects=False).status_code == 303
    response = browser.get(f"/consultations/{world.calls[user]}")
    assert response.status_code == 200, response.text
    return str(response.text)


def test_the_call_page_carries_the_real_call_ui_only_with_real_media(
    make_world: MakeWorld,
) -> None:
    real = make_world(media="real")
    page = _call_page(real, "alice")
    assert 'id="media" data-state="off" data-settled="yes"' in page
    assert "window.callMedia" in page and "media-offer" in page and "getUserMedia" in page
    header = make_world()
    page = _call_page(header, "alice")
    assert "callMedia = " not in page and 'id="media"' not in page
