"""The clean clinic keeps every patient's data to that patient and their clinicians."""

from __future__ import annotations

import json
import time
from pathlib import Path

from clinic.app import create_app
from clinic.flags import write_flags_file
from clinic.settings import ClinicSettings
from tests.clinic.conftest import MakeWorld
from tests.clinic.testclient import TestClient
from tests.clinic.world import PATIENTS, SUPPORT, check_ownership_flow, foreign


def test_ownership_flow(make_world: MakeWorld) -> None:
    check_ownership_flow(make_world())


def test_auth_required_and_roles(make_world: MakeWorld) -> None:
    world = make_world()
    assert world.client.get("/api/me/recordings").status_code == 401
    assert world.client.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = world.client.post("/api/login", json={"username": "alice", "password": "x"})
    assert bad.status_code == 401
    assert world.get("alice", "/api/clinician/recordings").status_code == 403
    assert world.get("alice", "/api/me").json()["nhs_number"] == PATIENTS["alice"][1]
    assert world.get("dr_grey", "/api/me").json()["nhs_number"] is None


def test_logout_invalidates_token(make_world: MakeWorld) -> None:
    world = make_world()
    assert world.post("alice", "/api/logout").status_code == 200
    assert world.get("alice", "/api/me").status_code == 401


def test_strangers_cannot_drive_a_call(make_world: MakeWorld) -> None:
    world = make_world()
    assert world.call("bob", "join", patient="alice").status_code == 404
    assert world.call("dr_hale", "join", patient="alice").status_code == 404
    assert world.call("dr_grey", "join", patient="alice").status_code == 200
    assert world.call("alice", "join").json()["participants"] == ["dr_grey", "alice"]


def test_call_state_machine(make_world: MakeWorld) -> None:
    world = make_world()
    assert world.call("alice", "switch", "video").status_code == 409
    assert world.call("alice", "end").status_code == 409
    assert world.call("alice", "join").json()["status"] == "active"
    assert world.call("alice", "switch", "audio").status_code == 409
    switched = world.call("alice", "switch", "video").json()
    assert (switched["mode"], switched["switches"]) == ("video", 1)
    assert world.call("alice", "leave").json()["participants"] == []
    assert world.call("alice", "leave").status_code == 409
    assert world.call("alice", "join").json()["participants"] == ["alice"]
    assert world.call("alice", "end").json()["status"] == "ended"
    assert world.call("alice", "join").status_code == 409
    assert [r["source"] for r in world.recordings("alice")] == ["switch", "call"]


def test_clinician_lists_only_assigned(make_world: MakeWorld) -> None:
    world = make_world()
    patients = world.get("dr_grey", "/api/clinician/patients").json()["items"]
    assert sorted(p["username"] for p in patients) == ["alice", "bob"]


def test_support_api_hidden_without_the_token(make_world: MakeWorld, tmp_path: Path) -> None:
    world = make_world()
    for headers in ({}, {"X-Support-Token": "wrong"}):
        assert world.client.post("/_support/reset", headers=headers).status_code == 404
        assert world.client.get("/_support/state", headers=headers).status_code == 404
    assert world.client.get("/_support/state", headers=SUPPORT).json()["patients"] == 3
    again = world.client.post(
        "/_support/seed",
        headers=SUPPORT,
        json={
            "patients": [
                {"username": "alice", "password": "p", "display_name": "A", "nhs_number": "1"}
            ]
        },
    )
    assert again.status_code == 409
    assert "/_support/reset" not in world.client.get("/openapi.json").json()["paths"]
    off = TestClient(create_app(ClinicSettings(data_dir=tmp_path / "nosupport")))
    assert off.post("/_support/reset", headers=SUPPORT).status_code == 404


def test_flag_off_hides_button_and_refuses_switch(make_world: MakeWorld, tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    world = make_world(flags_file=flags)
    assert json.loads(flags.read_text())["features"][0]["enabled"] is True
    call_id = world.calls["alice"]
    world.call("alice", "join")
    page = _page(world, "alice", f"/consultations/{call_id}")
    assert 'id="switch-to-video"' in page
    time.sleep(0.01)  # a distinct mtime for the rewrite
    write_flags_file(flags, enabled=False)
    assert world.get("alice", "/api/flags").json() == {"video-switch": False}
    refused = world.call("alice", "switch", "video")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "video switch is disabled: flag video-switch is off"
    assert 'id="switch-to-video"' not in _page(world, "alice", f"/consultations/{call_id}")
    write_flags_file(flags, enabled=True)
    assert world.call("alice", "switch", "video").status_code == 200


def test_media_ranges(make_world: MakeWorld) -> None:
    world = make_world()
    world.call("alice", "join")
    world.call("alice", "end")
    recording = world.recordings("alice")[0]
    url = world.post("alice", f"/api/recordings/{recording['id']}/media-token").json()["url"]
    full = world.get("alice", url)
    size = recording["media_size"]
    assert full.headers["accept-ranges"] == "bytes" and len(full.content) == size > 4096
    part = world.get("alice", url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    tail = world.get("alice", url, headers={"Range": "bytes=-5"})
    assert tail.content == full.content[-5:]
    for bad in ("bytes=5-1", f"bytes={size}-", "bytes=abc", "items=0-1", "bytes=0-1,3-4"):
        refused = world.get("alice", url, headers={"Range": bad})
        assert refused.status_code == 416, bad
        assert refused.headers["content-range"] == f"bytes */{size}"
    assert world.get("alice", f"/api/recordings/{recording['id']}/media").status_code == 403
    assert world.get("bob", url).status_code == 403


def test_malformed_requests_are_4xx(make_world: MakeWorld) -> None:
    world = make_world()
    cases = [
        world.get("alice", "/api/me/recordings", params={"per_page": 0}),
        world.get("alice", "/api/me/recordings", params={"per_page": 101}),
        world.get("alice", "/api/recordings/abc"),
        world.get("alice", "/api/recordings/99999999999999999999"),
        world.post(
            "alice", f"/api/consultations/{world.calls['alice']}/switch", json={"mode": "x"}
        ),
        world.post("alice", f"/api/consultations/{world.calls['alice']}/switch", content=b"{"),
        world.client.post("/api/login", json={"username": "a\x00", "password": "p"}),
        world.client.post(
            "/api/login",
            content=b'{"username": "\\ud800", "password": "p"}',
            headers={"Content-Type": "application/json"},
        ),
    ]
    assert [c.status_code for c in cases] == [422] * len(cases)


def test_pages(make_world: MakeWorld) -> None:
    world = make_world()
    anonymous = TestClient(world.client.app)
    assert anonymous.get("/profile", follow_redirects=False).headers["location"] == "/login"
    world.call("alice", "join")
    world.call("alice", "switch", "video")
    html = _page(world, "alice", "/profile")
    assert '<section id="appointments">' in html and '<section id="recordings">' in html
    assert html.count('class="recording"') == 1 and PATIENTS["alice"][1] in html
    assert PATIENTS["bob"][0] not in html
    clinician = _page(world, "dr_hale", "/clinician")
    assert PATIENTS["carol"][0] in clinician and PATIENTS["alice"][0] not in clinician


def test_no_foreign_data_after_many_users_switch(make_world: MakeWorld) -> None:
    world = make_world()
    for user in PATIENTS:
        world.call(user, "join")
    for user in PATIENTS:
        world.call(user, "switch", "video")
        world.call(user, "leave")
        world.call(user, "join")
    for user in PATIENTS:
        assert not foreign(world.recordings(user), world, user)
        assert not foreign(world.appointments(user), world, user)


def _page(world: object, user: str, path: str) -> str:
    from tests.clinic.world import PASSWORD, World

    assert isinstance(world, World)
    browser = TestClient(world.client.app)
    login = browser.post(
        "/login", data={"username": user, "password": PASSWORD}, follow_redirects=False
    )
    assert login.status_code == 303
    response = browser.get(path)
    assert response.status_code == 200, response.text
    return str(response.text)
